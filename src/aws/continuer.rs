//! Continuation of a long audit in a new invocation, through an event on our own bus.

use async_trait::async_trait;
use aws_config::SdkConfig;

use super::errors::error_code;
use crate::audit::trigger::{Continuation, CONTINUATION_DETAIL_TYPE, CONTINUATION_SOURCE};
use crate::secrets::ReadError;

/// Re-invokes the audit through an event on our bus (a rule routes "Drift Audit Continuation"
/// back to the function), so no Lambda permission on itself is needed.
pub struct EventBridgeContinuer {
    client: aws_sdk_eventbridge::Client,
    bus: Option<String>,
}

impl EventBridgeContinuer {
    pub fn new(sdk: &SdkConfig, bus: Option<String>) -> Self {
        Self {
            client: aws_sdk_eventbridge::Client::new(sdk),
            bus,
        }
    }
}

#[async_trait]
impl crate::audit::engine::Continuer for EventBridgeContinuer {
    async fn schedule(&self, continuation: &Continuation) -> Result<(), ReadError> {
        let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .source(CONTINUATION_SOURCE)
            .detail_type(CONTINUATION_DETAIL_TYPE)
            .detail(
                serde_json::json!({"schemaVersion": "1.0", "continuation": continuation})
                    .to_string(),
            )
            .set_event_bus_name(self.bus.clone())
            .build();
        let out = self
            .client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| ReadError::from(error_code(&e.into_service_error())))?;
        match out.entries().first().and_then(|e| e.error_code()) {
            Some(c) if out.failed_entry_count() > 0 => Err(c.into()),
            _ => Ok(()),
        }
    }
}
