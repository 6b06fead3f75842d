//! The audit summary (log line + EMF), the API-call lower bound it is judged against, and the
//! operator's table.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::findings::{Finding, Severity};

use super::collect::{Tally, BATCH_SIZE};

/// Page sizes of the List operations (the model maxima).
pub const OAUTH2_PAGE: u64 = 20;
pub const API_KEY_PAGE: u64 = 100;
pub const PAYMENT_PAGE: u64 = 20;

/// API calls made so far, by operation name (`DescribeSecret`, `GetOauth2CredentialProvider`…).
pub trait CallMeter: Send + Sync {
    fn counts(&self) -> BTreeMap<String, u64>;
}

/// What one invocation did.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditSummary {
    pub audit_id: String,
    pub trigger: String,
    pub full: bool,
    pub complete: bool,
    pub invocation: u32,
    pub oauth2_providers: u64,
    pub api_key_providers: u64,
    /// Payment providers (each holds up to two references).
    pub payment_providers: u64,
    pub secrets: u64,
    pub active: BTreeMap<String, u64>,
    pub resolved: u64,
    pub api_calls: BTreeMap<String, u64>,
    pub api_calls_total: u64,
    pub lower_bound: u64,
    /// Secrets whose facts were read ahead and not reached by a wave of this invocation (a
    /// continued audit reads them again): reads the lower bound counts but no finding used.
    pub read_ahead_unused: u64,
    pub duration_ms: u64,
    #[serde(skip)]
    pub tally: Tally,
}

impl AuditSummary {
    /// Fewest calls that can read what this invocation read: every List page (providers and,
    /// for a full audit, secrets), one Get per provider, one DescribeSecret per referenced
    /// secret the listing did not return, one GetResourcePolicy per secret, one
    /// GetFunctionConcurrency per distinct rotation function, values 20 per call,
    /// one key policy per customer key, one upstream list per rotator secret, and the older
    /// versions lineage needs, the GetFindings pages of the findings lifecycle, and the gateway
    /// reads of the blast radius when a provider has a finding, and the canary's GetMetricData
    /// calls. Token probes
    /// are plain HTTPS, not SDK calls; delivering findings is output, not reading: neither is
    /// counted here.
    pub fn compute_lower_bound(&mut self) {
        let t = &self.tally;
        let pages = self.oauth2_providers.div_ceil(OAUTH2_PAGE).max(1)
            + self.api_key_providers.div_ceil(API_KEY_PAGE).max(1)
            + self.payment_providers.div_ceil(PAYMENT_PAGE).max(1);
        self.lower_bound = pages
            + self.providers()
            + t.upstream_lists
            + t.listed_pages
            + t.described
            + t.functions
            + t.policies
            + t.values.div_ceil(BATCH_SIZE as u64)
            + t.keys
            + t.stage_reads
            + t.history_pages
            + t.gateway_reads
            + t.metric_reads;
    }

    pub fn record_calls(&mut self, counts: BTreeMap<String, u64>) {
        self.api_calls_total = counts.values().sum();
        self.api_calls = counts;
    }

    pub fn count(&mut self, findings: &[Finding]) {
        for f in findings {
            if f.is_active() {
                *self
                    .active
                    .entry(f.severity().label().to_string())
                    .or_default() += 1;
            } else {
                self.resolved += 1;
            }
        }
    }

    /// Providers of every kind (a payment provider counts once, however many references).
    pub fn providers(&self) -> u64 {
        self.oauth2_providers + self.api_key_providers + self.payment_providers
    }

    pub fn active_total(&self) -> u64 {
        self.active.values().sum()
    }

    /// One EMF document: the audit's size and cost as metrics (dimension `Trigger`, a handful
    /// of values), the per-operation counts as plain properties (no metric per operation).
    pub fn emf(&self, namespace: &str, timestamp_ms: u64) -> serde_json::Value {
        let metrics = [
            ("AuditDurationMs", "Milliseconds", self.duration_ms),
            ("ApiCalls", "Count", self.api_calls_total),
            ("ApiCallsLowerBound", "Count", self.lower_bound),
            ("ProvidersAudited", "Count", self.providers()),
            ("SecretsAudited", "Count", self.secrets),
            ("ActiveFindings", "Count", self.active_total()),
            ("ResolvedFindings", "Count", self.resolved),
        ];
        let mut doc = serde_json::json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": [["Trigger"]],
                    "Metrics": metrics.iter().map(|(n, u, _)| serde_json::json!({"Name": n, "Unit": u})).collect::<Vec<_>>(),
                }],
            },
            "Trigger": self.trigger,
            "auditId": self.audit_id,
            "apiCallsByOperation": self.api_calls,
        });
        for (name, _, value) in metrics {
            doc[name] = serde_json::json!(value);
        }
        doc
    }
}

/// Findings as a fixed-width table, most severe first.
pub fn table(findings: &[Finding]) -> String {
    let mut rows: Vec<&Finding> = findings.iter().collect();
    rows.sort_by(|a, b| {
        b.severity()
            .cmp(&a.severity())
            .then(a.rule_id().cmp(b.rule_id()))
    });
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<13} {:<8} {:<9} {:<44} RESOURCE",
        "SEVERITY", "RULE", "STATE", "TITLE"
    );
    for f in rows {
        let resource = f
            .resources()
            .iter()
            .map(|r| r.arn_or_id())
            .collect::<Vec<_>>()
            .join(", ");
        let title = crate::findings::truncate_utf8(f.title(), 44);
        let _ = writeln!(
            out,
            "{:<13} {:<8} {:<9} {:<44} {resource}",
            f.severity().label(),
            f.rule_id(),
            f.state().label(),
            title
        );
        let _ = writeln!(out, "{:>32} {}", "", f.description());
    }
    out
}

/// The summary line under the table.
pub fn totals(summary: &AuditSummary) -> String {
    let by_severity = Severity::ALL
        .iter()
        .rev()
        .filter_map(|s| {
            summary
                .active
                .get(s.label())
                .map(|n| format!("{n} {}", s.label()))
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "audited {} provider(s) and {} secret(s): {} active finding(s){}, {} resolved; {} API call(s) (lower bound {}) in {} ms",
        summary.providers(),
        summary.secrets,
        summary.active_total(),
        if by_severity.is_empty() { String::new() } else { format!(" ({by_severity})") },
        summary.resolved,
        summary.api_calls_total,
        summary.lower_bound,
        summary.duration_ms
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::rules::fixtures::*;
    use crate::audit::snapshot::Lookup;

    #[test]
    fn the_lower_bound_counts_pages_gets_and_batched_values() {
        let mut s = AuditSummary {
            oauth2_providers: 10_000,
            api_key_providers: 0,
            tally: Tally {
                described: 2000,
                values: 2000,
                policies: 2000,
                ..Tally::default()
            },
            ..AuditSummary::default()
        };
        s.compute_lower_bound();
        assert_eq!(s.lower_bound, 500 + 1 + 1 + 10_000 + 2000 + 2000 + 100);
    }

    #[test]
    fn the_table_shows_severity_rule_and_resource_and_the_emf_line_has_the_metrics() {
        let mut snap = healthy();
        secret(&mut snap).lookup = Lookup::NotFound;
        let findings = crate::audit::rules::evaluate(&snap, &ctx()).findings;
        let t = table(&findings);
        assert!(
            t.contains("REF-001") && t.contains(SECRET) && t.contains("HIGH"),
            "{t}"
        );
        let mut s = AuditSummary {
            trigger: "scheduler".into(),
            ..AuditSummary::default()
        };
        s.count(&findings);
        let emf = s.emf("Ns", 1);
        assert_eq!(emf["ActiveFindings"], 1);
        assert_eq!(emf["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Ns");
        assert!(totals(&s).contains("1 active finding(s) (1 HIGH)"));
    }
}
