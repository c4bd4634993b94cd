//! Deployment: defaults (`SetDefaults_Deployment`) and validation (`ValidateDeploymentSpec`).

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStrategy, RollingUpdateDeployment};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::pod::{default_pod_template, go_int_or_string};
use super::replicaset::{immutable_selector, non_negative, validate_selector_and_template};
use crate::field::{BadValue, ErrorList, FieldError, Path};
use crate::kind::Kind;
use crate::validation::NameRule;

/// The default maxSurge and maxUnavailable of a rolling update.
const DEFAULT_ROLLING_STEP: &str = "25%";

impl Kind for Deployment {
    const NAME_RULE: NameRule = NameRule::Dns1123Subdomain;

    fn set_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        spec.replicas.get_or_insert(1);
        let strategy = spec.strategy.get_or_insert_with(Default::default);
        if strategy.type_.as_deref().unwrap_or("").is_empty() {
            strategy.type_ = Some("RollingUpdate".to_string());
        }
        if strategy.type_.as_deref() == Some("RollingUpdate") {
            let rolling = strategy.rolling_update.get_or_insert_with(Default::default);
            rolling
                .max_unavailable
                .get_or_insert_with(|| IntOrString::String(DEFAULT_ROLLING_STEP.to_string()));
            rolling
                .max_surge
                .get_or_insert_with(|| IntOrString::String(DEFAULT_ROLLING_STEP.to_string()));
        }
        spec.revision_history_limit.get_or_insert(10);
        spec.progress_deadline_seconds.get_or_insert(600);
        default_pod_template(&mut spec.template);
    }

    fn validate_create(&self) -> ErrorList {
        let path = Path::new("spec");
        let spec = self.spec.clone().unwrap_or_default();
        let mut errs = non_negative(spec.replicas.unwrap_or(0), &path.child("replicas"));
        errs.extend(validate_selector_and_template(
            &spec.selector,
            Some(&spec.template),
            &path,
        ));
        errs.extend(validate_strategy(
            &spec.strategy.unwrap_or_default(),
            &path.child("strategy"),
        ));
        let min_ready = spec.min_ready_seconds.unwrap_or(0);
        errs.extend(non_negative(min_ready, &path.child("minReadySeconds")));
        if let Some(limit) = spec.revision_history_limit {
            errs.extend(non_negative(limit, &path.child("revisionHistoryLimit")));
        }
        if let Some(deadline) = spec.progress_deadline_seconds {
            let deadline_path = path.child("progressDeadlineSeconds");
            errs.extend(non_negative(deadline, &deadline_path));
            if deadline <= min_ready {
                errs.push(FieldError::invalid(
                    deadline_path,
                    deadline,
                    "must be greater than minReadySeconds",
                ));
            }
        }
        errs
    }

    /// apps/v1 also forbids changing the selector.
    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errs = self.validate_create();
        let selector = |d: &Deployment| d.spec.as_ref().map(|s| s.selector.clone());
        errs.extend(immutable_selector(
            selector(self).unwrap_or_default(),
            selector(old).unwrap_or_default(),
        ));
        errs
    }
}

/// `ValidateDeploymentStrategy`.
fn validate_strategy(strategy: &DeploymentStrategy, path: &Path) -> ErrorList {
    match strategy.type_.as_deref().unwrap_or("") {
        "Recreate" => match strategy.rolling_update {
            Some(_) => vec![FieldError::forbidden(
                path.child("rollingUpdate"),
                "may not be specified when strategy `type` is 'Recreate'",
            )],
            None => Vec::new(),
        },
        "RollingUpdate" => match &strategy.rolling_update {
            None => vec![FieldError::required(
                path.child("rollingUpdate"),
                "this should be defaulted and never be nil",
            )],
            Some(rolling) => validate_rolling_update(rolling, &path.child("rollingUpdate")),
        },
        other => vec![FieldError::not_supported(
            path,
            BadValue::Raw(format!(
                "apps.DeploymentStrategy{{Type:{}, RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}}",
                crate::field::go_quote(other)
            )),
            &["Recreate", "RollingUpdate"],
        )],
    }
}

/// `ValidateRollingUpdateDeployment`.
fn validate_rolling_update(rolling: &RollingUpdateDeployment, path: &Path) -> ErrorList {
    let zero = IntOrString::Int(0);
    let unavailable = rolling.max_unavailable.as_ref().unwrap_or(&zero);
    let surge = rolling.max_surge.as_ref().unwrap_or(&zero);
    let unavailable_path = path.child("maxUnavailable");
    let mut errs = positive_int_or_percent(unavailable, &unavailable_path);
    errs.extend(positive_int_or_percent(surge, &path.child("maxSurge")));
    if int_or_percent(unavailable) == 0 && int_or_percent(surge) == 0 {
        errs.push(FieldError::invalid(
            &unavailable_path,
            go_int_or_string(unavailable),
            "may not be 0 when `maxSurge` is 0",
        ));
    }
    if let IntOrString::String(s) = unavailable {
        if percent(s).is_some_and(|p| p > 100) {
            errs.push(FieldError::invalid(
                &unavailable_path,
                go_int_or_string(unavailable),
                "must not be greater than 100%",
            ));
        }
    }
    errs
}

/// `ValidatePositiveIntOrPercent`.
fn positive_int_or_percent(value: &IntOrString, path: &Path) -> ErrorList {
    match value {
        IntOrString::Int(n) => non_negative(*n, path),
        IntOrString::String(s) if percent(s).is_none() => vec![FieldError::invalid(
            path,
            go_int_or_string(value),
            "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
        )],
        IntOrString::String(_) => Vec::new(),
    }
}

/// The number of `[0-9]+%`.
fn percent(value: &str) -> Option<i64> {
    let digits = value.strip_suffix('%')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// `getIntOrPercentValue`: the integer, or the percentage's number (0 if malformed).
fn int_or_percent(value: &IntOrString) -> i64 {
    match value {
        IntOrString::Int(n) => i64::from(*n),
        IntOrString::String(s) => percent(s).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::resource::find_kind;

    fn defaulted(mut object: Value) -> Value {
        let ops = find_kind("apps/v1", "Deployment").unwrap().ops;
        ops.set_defaults(&mut object).unwrap();
        object
    }

    fn errors(spec: Value) -> Vec<String> {
        let ops = find_kind("apps/v1", "Deployment").unwrap().ops;
        let object = defaulted(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "kubia", "namespace": "default"}, "spec": spec}));
        let errs = ops.validate_create(&object, true).unwrap();
        errs.iter().map(ToString::to_string).collect()
    }

    fn template(labels: Value) -> Value {
        json!({"metadata": {"labels": labels},
               "spec": {"containers": [{"name": "kubia", "image": "luksa/kubia:v1"}]}})
    }

    #[test]
    fn kubectl_create_deployment_is_defaulted_like_upstream() {
        // The body of `kubectl create deployment kubia --image=luksa/kubia:v1 --replicas=3`.
        let deployment = defaulted(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "kubia", "labels": {"app": "kubia"}},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "kubia"}},
                     "template": template(json!({"app": "kubia"})), "strategy": {}}}));
        assert_eq!(
            deployment["spec"],
            json!({
                "progressDeadlineSeconds": 600,
                "replicas": 3,
                "revisionHistoryLimit": 10,
                "selector": {"matchLabels": {"app": "kubia"}},
                "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                             "type": "RollingUpdate"},
                "template": {
                    "metadata": {"labels": {"app": "kubia"}},
                    "spec": {
                        "containers": [{"image": "luksa/kubia:v1", "imagePullPolicy": "IfNotPresent",
                                        "name": "kubia", "terminationMessagePath": "/dev/termination-log",
                                        "terminationMessagePolicy": "File"}],
                        "dnsPolicy": "ClusterFirst",
                        "restartPolicy": "Always",
                        "schedulerName": "default-scheduler",
                        "securityContext": {},
                        "terminationGracePeriodSeconds": 30
                    }
                }
            })
        );
        let recreate = defaulted(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "kubia"},
            "spec": {"selector": {"matchLabels": {"app": "kubia"}}, "template": template(json!({"app": "kubia"})),
                     "strategy": {"type": "Recreate"}}}));
        assert_eq!(recreate["spec"]["replicas"], 1);
        assert_eq!(recreate["spec"]["strategy"], json!({"type": "Recreate"}));
    }

    #[test]
    fn validation_messages_match_upstream() {
        let cases: Vec<(Value, Vec<&str>)> = vec![
            (
                json!({"selector": {"matchLabels": {"app": "kubia"}}, "template": template(json!({"app": "kubia"}))}),
                vec![],
            ),
            (
                json!({"template": template(json!({"app": "x"}))}),
                vec![
                    "spec.selector: Required value",
                    r#"spec.template.metadata.labels: Invalid value: map[string]string{"app":"x"}: `selector` does not match template `labels`"#,
                ],
            ),
            (
                json!({"replicas": -1, "selector": {"matchLabels": {"app": "kubia"}},
                       "template": template(json!({"app": "other"}))}),
                vec![
                    "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
                    r#"spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: `selector` does not match template `labels`"#,
                ],
            ),
            (
                json!({"selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["kubia", "web"]}]},
                       "template": template(json!({"app": "web"}))}),
                vec![],
            ),
            (
                json!({"selector": {"matchLabels": {"app": "kubia"}}, "template": template(json!({"app": "kubia"})),
                       "strategy": {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}}}),
                vec!["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}: may not be 0 when `maxSurge` is 0"],
            ),
            (
                json!({"selector": {"matchLabels": {"app": "kubia"}}, "template": template(json!({"app": "kubia"})),
                       "strategy": {"rollingUpdate": {"maxUnavailable": "110%", "maxSurge": "x"}}}),
                vec![
                    "spec.strategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"x\"}: a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
                    "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"110%\"}: must not be greater than 100%",
                ],
            ),
            (
                json!({"selector": {"matchLabels": {"app": "kubia"}}, "template": template(json!({"app": "kubia"})),
                       "strategy": {"type": "Recreate", "rollingUpdate": {}}}),
                vec!["spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"],
            ),
            (
                json!({"selector": {"matchLabels": {"app": "kubia"}}, "minReadySeconds": 700,
                       "template": template(json!({"app": "kubia"}))}),
                vec!["spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"],
            ),
            (
                json!({"selector": {"matchLabels": {"app": "kubia"}},
                       "template": {"metadata": {"labels": {"app": "kubia"}},
                                    "spec": {"restartPolicy": "Never", "containers": [{"name": "kubia", "image": "x"}]}}}),
                vec![r#"spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always""#],
            ),
            (
                json!({"selector": {"matchLabels": {"app": "kubia"}}, "template": template(json!({"app": "kubia"}))
                    .as_object().map(|t| {
                        let mut t = t.clone();
                        t["spec"]["containers"][0].as_object_mut().unwrap().remove("image");
                        Value::Object(t)
                    }).unwrap()}),
                vec!["spec.template.spec.containers[0].image: Required value"],
            ),
        ];
        for (spec, want) in cases {
            assert_eq!(errors(spec.clone()), want, "{spec}");
        }
    }

    #[test]
    fn the_selector_is_immutable() {
        let ops = find_kind("apps/v1", "Deployment").unwrap().ops;
        let old = defaulted(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "kubia", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "kubia"}}, "template": template(json!({"app": "kubia", "v": "2"}))}}));
        let mut new = old.clone();
        new["spec"]["replicas"] = json!(5);
        assert!(ops.validate_update(&new, &old, true).unwrap().is_empty());
        new["spec"]["selector"] = json!({"matchLabels": {"app": "kubia", "v": "2"}});
        let errs: Vec<String> = ops
            .validate_update(&new, &old, true)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errs,
            vec![
                r#"spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"kubia", "v":"2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"#
            ]
        );
    }
}
