//! JSON for apps/v1 Deployment and ReplicaSet.

use k8s_pb::api::apps::v1::{
    Deployment, DeploymentCondition, DeploymentSpec, DeploymentStatus, DeploymentStrategy,
    ReplicaSet, ReplicaSetCondition, ReplicaSetSpec, ReplicaSetStatus, RollingUpdateDeployment,
};
use serde_json::Value;

use super::json::{Fields, ToJson};

impl ToJson for Deployment {
    fn to_json(&self) -> Value {
        Fields::new()
            .message("metadata", &self.metadata)
            .message("spec", &self.spec)
            .message("status", &self.status)
            .build()
    }
}

impl ToJson for DeploymentSpec {
    fn to_json(&self) -> Value {
        Fields::new()
            .int_ptr("replicas", self.replicas)
            .message("selector", &self.selector)
            .message("template", &self.template)
            .message("strategy", &self.strategy)
            .int("minReadySeconds", self.min_ready_seconds)
            .int_ptr("revisionHistoryLimit", self.revision_history_limit)
            .bool("paused", self.paused)
            .int_ptr("progressDeadlineSeconds", self.progress_deadline_seconds)
            .build()
    }
}

impl ToJson for DeploymentStrategy {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("type", &self.r#type)
            .message("rollingUpdate", &self.rolling_update)
            .build()
    }
}

impl ToJson for RollingUpdateDeployment {
    fn to_json(&self) -> Value {
        Fields::new()
            .int_or_string("maxUnavailable", &self.max_unavailable)
            .int_or_string("maxSurge", &self.max_surge)
            .build()
    }
}

impl ToJson for DeploymentStatus {
    fn to_json(&self) -> Value {
        Fields::new()
            .int("observedGeneration", self.observed_generation)
            .int("replicas", self.replicas)
            .int("updatedReplicas", self.updated_replicas)
            .int("readyReplicas", self.ready_replicas)
            .int("availableReplicas", self.available_replicas)
            .int("unavailableReplicas", self.unavailable_replicas)
            .messages("conditions", &self.conditions)
            .int_ptr("collisionCount", self.collision_count)
            .build()
    }
}

impl ToJson for DeploymentCondition {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("type", &self.r#type)
            .string("status", &self.status)
            .time("lastUpdateTime", &self.last_update_time)
            .time("lastTransitionTime", &self.last_transition_time)
            .string("reason", &self.reason)
            .string("message", &self.message)
            .build()
    }
}

impl ToJson for ReplicaSet {
    fn to_json(&self) -> Value {
        Fields::new()
            .message("metadata", &self.metadata)
            .message("spec", &self.spec)
            .message("status", &self.status)
            .build()
    }
}

impl ToJson for ReplicaSetSpec {
    fn to_json(&self) -> Value {
        Fields::new()
            .int_ptr("replicas", self.replicas)
            .int("minReadySeconds", self.min_ready_seconds)
            .message("selector", &self.selector)
            .message("template", &self.template)
            .build()
    }
}

impl ToJson for ReplicaSetStatus {
    fn to_json(&self) -> Value {
        Fields::new()
            .int_ptr("replicas", self.replicas)
            .int("fullyLabeledReplicas", self.fully_labeled_replicas)
            .int("readyReplicas", self.ready_replicas)
            .int("availableReplicas", self.available_replicas)
            .int("observedGeneration", self.observed_generation)
            .messages("conditions", &self.conditions)
            .build()
    }
}

impl ToJson for ReplicaSetCondition {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("type", &self.r#type)
            .string("status", &self.status)
            .time("lastTransitionTime", &self.last_transition_time)
            .string("reason", &self.reason)
            .string("message", &self.message)
            .build()
    }
}
