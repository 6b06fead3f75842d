//! Reading emitted findings back from the local stack: an EventBridge bus whose rule for our
//! source delivers to an SQS queue.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::moto::Moto;

/// A name no other test in this process (or an earlier run against the same moto) has used.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// An event bus with a rule for our source that targets a new SQS queue.
pub struct BusToQueue {
    pub bus: String,
    queue_url: String,
    sqs: aws_sdk_sqs::Client,
}

impl BusToQueue {
    pub async fn create() -> Self {
        let config = Moto::shared().sdk_config();
        let events = aws_sdk_eventbridge::Client::new(&config);
        let sqs = aws_sdk_sqs::Client::new(&config);
        let bus = unique("findings-bus");
        events.create_event_bus().name(&bus).send().await.unwrap();
        let queue_url = sqs
            .create_queue()
            .queue_name(unique("findings-queue"))
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let queue_arn = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
            .clone();
        let rule = unique("findings-rule");
        events
            .put_rule()
            .name(&rule)
            .event_bus_name(&bus)
            .event_pattern(r#"{"source":["io.agentcore-rotator"]}"#)
            .send()
            .await
            .unwrap();
        events
            .put_targets()
            .rule(&rule)
            .event_bus_name(&bus)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("queue")
                    .arn(queue_arn)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        Self {
            bus,
            queue_url,
            sqs,
        }
    }

    /// The events on the queue, parsed; waits until `n` arrived (or gives up after a while).
    pub async fn receive(&self, n: usize) -> Vec<serde_json::Value> {
        let mut events = Vec::new();
        for _ in 0..50 {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap();
            for message in out.messages() {
                events.push(serde_json::from_str(message.body().unwrap()).unwrap());
            }
            if events.len() >= n {
                break;
            }
            if out.messages().is_empty() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        events
    }
}
