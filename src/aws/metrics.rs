//! `WorkloadAccessTokenFetchFailures` through CloudWatch `GetMetricData`: one query per provider
//! (`Sum` per minute over both windows, each minute counted before or after the switch by its
//! timestamp, so no bucket straddles the switch), so one call answers for up to 500 providers.
//!
//! `aws-sdk-cloudwatch` is pinned to 1.99, the last release speaking the query protocol:
//! CloudWatch serves it as well as the newer RPC v2 CBOR, and the local stack's moto serves
//! only the query protocol.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_cloudwatch as cw;
use aws_smithy_types::DateTime;
use cw::types::{Dimension, Metric, MetricDataQuery, MetricStat};

use crate::agentcore::canary::{
    Counts, FailureMetrics, MetricsError, Windows, DIMENSION, METRIC, NAMESPACE,
};
use crate::aws::call_counter::CallCounter;

/// GetMetricData's limit on queries per call.
const MAX_QUERIES: usize = 500;

#[derive(Clone)]
pub struct CloudWatchMetrics {
    client: cw::Client,
}

impl CloudWatchMetrics {
    pub fn new(sdk: &SdkConfig, counter: Option<&CallCounter>) -> Self {
        let mut conf = cw::config::Builder::from(sdk);
        if let Some(c) = counter {
            conf = conf.interceptor(c.clone());
        }
        Self {
            client: cw::Client::from_conf(conf.build()),
        }
    }
}

fn at(t: crate::findings::Timestamp) -> DateTime {
    DateTime::from_millis(t.as_millis() as i64)
}

#[async_trait]
impl FailureMetrics for CloudWatchMetrics {
    async fn failures(
        &self,
        providers: &[String],
        windows: &Windows,
    ) -> Result<Vec<Counts>, MetricsError> {
        // Per minute: the windows are whole minutes from a switch rounded to the minute.
        let period = 60;
        let switch_ms = windows.switch.as_millis() as i64;
        let mut out = Vec::with_capacity(providers.len());
        for chunk in providers.chunks(MAX_QUERIES) {
            let queries: Vec<MetricDataQuery> = chunk
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    MetricDataQuery::builder()
                        .id(format!("p{i}"))
                        .metric_stat(
                            MetricStat::builder()
                                .metric(
                                    Metric::builder()
                                        .namespace(NAMESPACE)
                                        .metric_name(METRIC)
                                        .dimensions(
                                            Dimension::builder()
                                                .name(DIMENSION)
                                                .value(name)
                                                .build(),
                                        )
                                        .build(),
                                )
                                .period(period)
                                .stat("Sum")
                                .build(),
                        )
                        .return_data(true)
                        .build()
                })
                .collect();
            let mut counts: Vec<Counts> = chunk
                .iter()
                .map(|name| Counts {
                    provider: name.clone(),
                    before: 0.0,
                    after: 0.0,
                })
                .collect();
            let mut pages = self
                .client
                .get_metric_data()
                .set_metric_data_queries(Some(queries))
                .start_time(at(windows.start()))
                .end_time(at(windows.end()))
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| MetricsError {
                    operation: "GetMetricData",
                    message: super::errors::error_summary(&e),
                })?;
                for result in page.metric_data_results() {
                    let Some(i) = result
                        .id()
                        .and_then(|id| id.strip_prefix('p'))
                        .and_then(|n| n.parse::<usize>().ok())
                        .filter(|i| *i < counts.len())
                    else {
                        continue;
                    };
                    for (t, v) in result.timestamps().iter().zip(result.values()) {
                        let ms = t.to_millis().unwrap_or_default();
                        if ms < switch_ms {
                            counts[i].before += v;
                        } else {
                            counts[i].after += v;
                        }
                    }
                }
            }
            out.extend(counts);
        }
        Ok(out)
    }
}
