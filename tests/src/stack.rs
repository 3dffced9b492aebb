//! The deployed stack's resources, created through the SDK on a [`MotoServer`] from the same
//! data the product reads: the routing table (`events/routing.json`) and the state machine
//! (`workflow/trip-saga.asl.json`).
//!
//! Differences from the CDK stack, all in this set-up and never in the product:
//! - visibility timeouts are shortened ([`StackOptions::visibility_timeout_seconds`]) so a
//!   failed record comes back within the test;
//! - no IAM (moto does not enforce it): the state machine's role is a dummy ARN;
//! - the catch-all `log` target is a real CloudWatch Logs group (moto delivers the full
//!   envelope as the log message), which the tests read to find each trip's final event
//!   ([`crate::moto::MotoServer::log_messages`]).

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::json;
use trip_events::Service;
use trip_events::routing::{RoutingTable, Target};
use trip_workflow::TRIP_SAGA_ASL;

use crate::moto::Clients;

/// A dummy role: moto does not check IAM.
pub const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/trip-saga-state-machine";
/// moto's default account.
pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// What to create.
#[derive(Debug, Clone)]
pub struct StackOptions {
    pub routing: RoutingTable,
    /// The ASL with `${EventBusName}` still in it (the test may edit its own copy).
    pub definition: String,
    /// Replaces every queue's visibility timeout (the table says 60 s).
    pub visibility_timeout_seconds: Option<u32>,
}

impl StackOptions {
    /// The product's routing table and state machine, with a 2 s visibility timeout.
    pub fn product() -> Result<Self> {
        Ok(StackOptions {
            routing: RoutingTable::load()?,
            definition: TRIP_SAGA_ASL.to_owned(),
            visibility_timeout_seconds: Some(2),
        })
    }
}

/// One SQS queue of the routing table and its dead-letter queue.
#[derive(Debug, Clone)]
pub struct StackQueue {
    pub name: String,
    pub consumer: String,
    pub url: String,
    pub arn: String,
    pub dlq_url: String,
    pub batch_size: u32,
}

/// The created resources.
#[derive(Debug, Clone)]
pub struct Stack {
    pub bus: String,
    pub queues: Vec<StackQueue>,
    /// Table name per service.
    pub tables: BTreeMap<Service, String>,
    pub state_machine_arn: String,
    /// Log group name per `log` target.
    pub log_groups: Vec<String>,
}

/// The table name of a service's bookings.
pub fn table_name(service: Service) -> String {
    format!("trip-saga-{service}")
}

/// The ASL with `${Name}` substitutions applied (what CloudFormation's
/// `DefinitionSubstitutions` does).
pub fn substitute(definition: &str, substitutions: &BTreeMap<String, String>) -> String {
    substitutions
        .iter()
        .fold(definition.to_owned(), |text, (name, value)| {
            text.replace(&format!("${{{name}}}"), value)
        })
}

impl Stack {
    /// Creates the bus, queues (with their dead-letter queues), rules, log group, one table
    /// per service and the state machine.
    pub async fn create(clients: &Clients, options: &StackOptions) -> Result<Stack> {
        let routing = &options.routing;
        let bus = routing.event_bus_name.clone();
        clients
            .eventbridge
            .create_event_bus()
            .name(&bus)
            .send()
            .await
            .context("CreateEventBus")?;

        let mut queues = Vec::new();
        for spec in &routing.queues {
            let dlq_url = clients
                .sqs
                .create_queue()
                .queue_name(format!("{}-dlq", spec.name))
                .send()
                .await
                .context("CreateQueue (dlq)")?
                .queue_url
                .context("dlq url")?;
            let dlq_arn = queue_arn(clients, &dlq_url).await?;
            let visibility = options
                .visibility_timeout_seconds
                .unwrap_or(spec.visibility_timeout_seconds);
            let redrive = json!({
                "deadLetterTargetArn": dlq_arn,
                "maxReceiveCount": spec.max_receive_count.to_string(),
            });
            let url = clients
                .sqs
                .create_queue()
                .queue_name(&spec.name)
                .attributes(
                    QueueAttributeName::VisibilityTimeout,
                    visibility.to_string(),
                )
                .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
                .send()
                .await
                .context("CreateQueue")?
                .queue_url
                .context("queue url")?;
            let arn = queue_arn(clients, &url).await?;
            queues.push(StackQueue {
                name: spec.name.clone(),
                consumer: spec.consumer.clone(),
                url,
                arn,
                dlq_url,
                batch_size: spec.batch_size,
            });
        }

        let mut log_groups = Vec::new();
        for rule in &routing.rules {
            clients
                .eventbridge
                .put_rule()
                .name(&rule.name)
                .description(&rule.description)
                .event_bus_name(&bus)
                .event_pattern(rule.event_pattern.to_string())
                .send()
                .await
                .with_context(|| format!("PutRule {}", rule.name))?;
            let target_arn = match &rule.target {
                Target::Queue { name } => queues
                    .iter()
                    .find(|q| &q.name == name)
                    .map(|q| q.arn.clone())
                    .context("rule to an unknown queue")?,
                Target::Log { name } => {
                    let group = format!("/aws/events/{name}");
                    clients
                        .logs
                        .create_log_group()
                        .log_group_name(&group)
                        .send()
                        .await
                        .context("CreateLogGroup")?;
                    log_groups.push(group.clone());
                    format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}")
                }
            };
            let target = aws_sdk_eventbridge::types::Target::builder()
                .id(format!("{}-target", rule.name))
                .arn(target_arn)
                .build()?;
            let out = clients
                .eventbridge
                .put_targets()
                .rule(&rule.name)
                .event_bus_name(&bus)
                .targets(target)
                .send()
                .await
                .with_context(|| format!("PutTargets {}", rule.name))?;
            if out.failed_entry_count() > 0 {
                bail!("PutTargets {}: {:?}", rule.name, out.failed_entries());
            }
        }

        let mut tables = BTreeMap::new();
        for service in Service::ALL {
            let name = table_name(service);
            create_booking_table(clients, &name).await?;
            tables.insert(service, name);
        }

        // The CDK app passes `EventBusName` as a DefinitionSubstitution; so does this.
        let definition = substitute(
            &options.definition,
            &trip_workflow::trip_saga_substitutions(&bus),
        );
        let state_machine_arn = clients
            .sfn
            .create_state_machine()
            .name(trip_workflow::TRIP_SAGA_NAME)
            .definition(definition)
            .role_arn(ROLE_ARN)
            .send()
            .await
            .context("CreateStateMachine")?
            .state_machine_arn;

        Ok(Stack {
            bus,
            queues,
            tables,
            state_machine_arn,
            log_groups,
        })
    }

    pub fn queue(&self, name: &str) -> &StackQueue {
        self.queues
            .iter()
            .find(|q| q.name == name)
            .unwrap_or_else(|| panic!("no queue {name}"))
    }

    /// The execution ARN of a trip's saga (the bridge names executions after the trip).
    pub fn execution_arn(&self, trip_id: &str) -> String {
        self.state_machine_arn
            .replacen(":stateMachine:", ":execution:", 1)
            + ":"
            + trip_id
    }
}

/// A service's table as the DynamoDB adapter expects it: string `pk` (hash) and `sk` (range).
pub async fn create_booking_table(clients: &Clients, name: &str) -> Result<()> {
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
    };
    let key = |n: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
    };
    clients
        .dynamodb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk")?)
        .attribute_definitions(attr("sk")?)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .send()
        .await
        .with_context(|| format!("CreateTable {name}"))?;
    Ok(())
}

async fn queue_arn(clients: &Clients, url: &str) -> Result<String> {
    let out = clients
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .context("GetQueueAttributes")?;
    out.attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .context("queue has no ARN")
}
