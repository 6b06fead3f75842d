//! The functions' log subscriber: `lambda_runtime`'s defaults (level from `AWS_LAMBDA_LOG_LEVEL`,
//! else `RUST_LOG`; JSON with `AWS_LAMBDA_LOG_FORMAT=JSON`; `RUST_LOG` directives honoured), with
//! one ceiling: only this crate logs at TRACE, every other crate at DEBUG at most. At TRACE the
//! AWS SDK prints request bodies (PutSecretValue's secret document and RotationToken,
//! AddUserPoolClientSecret's value) and `lambda_runtime` the raw event (the RotationToken), and
//! the template lets an operator pick TRACE.

use tracing::level_filters::LevelFilter;
use tracing::{Level, Metadata};
use tracing_subscriber::filter::{filter_fn, EnvFilter, FilterExt};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

/// The only target prefix whose TRACE events are kept: this crate's own.
const OWN_TARGET: &str = "agentcore_rotator";

/// What the Lambda environment asks of the logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogSettings {
    /// The default level (`AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG` when it is a bare level;
    /// INFO when neither parses, e.g. Lambda's `FATAL`).
    pub level: LevelFilter,
    /// `RUST_LOG` directives on top of the default level (still under the ceiling).
    pub directives: String,
    /// `AWS_LAMBDA_LOG_FORMAT=JSON`.
    pub json: bool,
}

impl LogSettings {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let level = lookup("AWS_LAMBDA_LOG_LEVEL")
            .or_else(|| lookup("RUST_LOG"))
            .and_then(|v| v.trim().parse::<LevelFilter>().ok())
            .unwrap_or(LevelFilter::INFO);
        Self {
            level,
            directives: lookup("RUST_LOG").unwrap_or_default(),
            json: lookup("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json")),
        }
    }
}

/// Whether an event or span may be logged at all: anything at DEBUG or above, TRACE only from
/// this crate.
pub fn within_ceiling(meta: &Metadata<'_>) -> bool {
    *meta.level() <= Level::DEBUG
        || meta
            .target()
            .strip_prefix(OWN_TARGET)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
}

/// The formatting layer writing to `writer`, filtered by `settings` and the ceiling.
pub fn layer<W>(settings: &LogSettings, writer: W) -> Box<dyn Layer<Registry> + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::builder()
        .with_default_directive(settings.level.into())
        .parse_lossy(&settings.directives)
        .and(filter_fn(within_ceiling));
    let fmt = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time()
        .with_writer(writer);
    if settings.json {
        fmt.json().with_filter(filter).boxed()
    } else {
        fmt.with_filter(filter).boxed()
    }
}

/// Installs the subscriber for a Lambda function, from its environment, writing to stdout.
pub fn init() {
    let settings = LogSettings::from_lookup(|k| std::env::var(k).ok());
    tracing_subscriber::registry()
        .with(layer(&settings, std::io::stdout))
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_follow_lambdas_variables() {
        let s = LogSettings::from_lookup(|k| match k {
            "AWS_LAMBDA_LOG_LEVEL" => Some("TRACE".into()),
            "AWS_LAMBDA_LOG_FORMAT" => Some("JSON".into()),
            "RUST_LOG" => Some("info".into()),
            _ => None,
        });
        assert_eq!(s.level, LevelFilter::TRACE);
        assert!(s.json);
        let s = LogSettings::from_lookup(|k| (k == "AWS_LAMBDA_LOG_LEVEL").then(|| "FATAL".into()));
        assert_eq!(s.level, LevelFilter::INFO);
        assert!(!s.json);
        let s = LogSettings::from_lookup(|_| None);
        assert_eq!(s.level, LevelFilter::INFO);
    }

    #[test]
    fn at_trace_only_this_crate_logs_trace_and_other_crates_log_debug() {
        use std::sync::{Arc, Mutex};
        struct Capture(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Capture {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let out = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = out.clone();
        let settings = LogSettings {
            level: LevelFilter::TRACE,
            directives: "trace,lambda_runtime=trace".into(),
            json: true,
        };
        let subscriber =
            tracing_subscriber::registry().with(layer(&settings, move || Capture(sink.clone())));
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(target: "lambda_runtime::layers::api_response", body = "rt-secret-1", "raw JSON event received from Lambda");
            tracing::trace!(target: "agentcore_rotator_impostor", "rt-secret-2");
            tracing::debug!(target: "aws_smithy_runtime::client::orchestrator", "sdk-debug-kept");
            tracing::trace!("own-trace-kept");
        });
        let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        assert!(
            !text.contains("rt-secret-1") && !text.contains("rt-secret-2"),
            "{text}"
        );
        assert!(
            text.contains("sdk-debug-kept") && text.contains("own-trace-kept"),
            "{text}"
        );
    }
}
