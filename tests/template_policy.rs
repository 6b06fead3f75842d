//! Offline least-privilege checks of `template.yaml`.
//!
//! The checker below parses the SAM template (CloudFormation short-form tags such as `!Ref`,
//! `!Sub`, `!GetAtt` and `!If` included) and reports:
//! - any wildcard action (`"*"`, `service:*`, `service:Get*`, `?`), in every branch of `!If`;
//! - `NotAction` / `NotResource`, and actions it cannot read as literals;
//! - a `Resource: "*"` whose actions are not all on [`STAR_RESOURCE_ALLOWED_ACTIONS`];
//! - an `Allow` of an action on [`FORBIDDEN_ACTIONS`] (tags, resource policies and settings of
//!   secrets; Lambda reads that return functions' environment variables);
//! - a Lambda permission for `secretsmanager.amazonaws.com` that lacks `SourceAccount` (in any
//!   branch) or uses `SourceArn`;
//! - managed policies and SAM policy templates, whose statements this file cannot see.
//!
//! Every statement in the template is found by shape (a mapping with a `Statement` key), so
//! role policies, trust policies, queue policies and SAM inline policies are all covered.
//! The second half of the file feeds the checker small bad templates to prove it catches each case.

use serde_yaml_ng::Value;

/// Actions that may be granted on `Resource: "*"`. Each is here because the Service Authorization
/// Reference lists no resource type for it, so no narrower `Resource` can be written.
/// Keep this list short; anything else on `"*"` fails the test.
const STAR_RESOURCE_ALLOWED_ACTIONS: &[&str] = &[
    // Secrets Manager: ListSecrets authorises against no resource (the audit enumerates secrets).
    "secretsmanager:ListSecrets",
    // Secrets Manager: BatchGetSecretValue has no resource type of its own; each secret it returns
    // still needs secretsmanager:GetSecretValue on that secret, which the template scopes.
    "secretsmanager:BatchGetSecretValue",
    // STS: GetWebIdentityToken has no resource type; the template pins the audience
    // (sts:IdentityTokenAudience) and the lifetime (sts:DurationSeconds) instead.
    "sts:GetWebIdentityToken",
    // AgentCore: ListGateways lists the account's gateways; granted on "*" because a list of the
    // account names no gateway yet (ListGatewayTargets and GetGatewayTarget are scoped to
    // gateway/*).
    "bedrock-agentcore:ListGateways",
    // CloudWatch: GetMetricData has no resource type (the canary reads the AgentCore metric).
    "cloudwatch:GetMetricData",
];

/// Actions no statement of the template may allow, on any resource, with any condition.
/// Matched case-insensitively, like IAM.
const FORBIDDEN_ACTIONS: &[&str] = &[
    // Tags decide which secrets are in scope (`agentcore-rotator`) and which client a secret may
    // mint credentials for (`agentcore-rotator:binding`, docs/deploy.md): only an administrator
    // writes them. CreateSecret is here because it can carry tags.
    "secretsmanager:TagResource",
    "secretsmanager:UntagResource",
    "secretsmanager:CreateSecret",
    // Who may read a secret (bedrock-agentcore.amazonaws.com among others) is the owner's call.
    "secretsmanager:PutResourcePolicy",
    "secretsmanager:DeleteResourcePolicy",
    // UpdateSecret changes the KMS key and can write a value straight to AWSCURRENT, around the
    // rotation protocol; the rotation needs PutSecretValue and UpdateSecretVersionStage only.
    "secretsmanager:UpdateSecret",
    // These return functions' environment variables (GetFunction also a presigned code URL).
    // SEC-004 only asks whether a function exists: lambda:GetFunctionConcurrency answers that.
    "lambda:GetFunction",
    "lambda:GetFunctionConfiguration",
    "lambda:ListFunctions",
];

const TEMPLATE_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml");

#[derive(Debug, Clone, PartialEq, Eq)]
enum Problem {
    /// An action containing `*` or `?`.
    WildcardAction(String),
    /// `NotAction` grants everything except a list: a wildcard in disguise.
    NotAction,
    /// `NotResource` grants on everything except a list.
    NotResource,
    /// An action the checker cannot read (a `!Ref`, `!Join`, ...), so cannot vouch for.
    NonLiteralAction,
    /// `Resource: "*"` with these actions that are not on the allow-list (empty: no actions given).
    StarResource(Vec<String>),
    /// An `Allow` of an action on [`FORBIDDEN_ACTIONS`].
    ForbiddenAction(String),
    /// A Secrets Manager invoke permission that may be created without `SourceAccount`.
    SecretsManagerPermissionWithoutSourceAccount,
    /// A Secrets Manager invoke permission with `SourceArn` (pins the function to one secret).
    SecretsManagerPermissionWithSourceArn,
    /// A managed policy or SAM policy template: its statements are not in this template.
    UnreviewedPolicy(String),
}

#[derive(Debug, Clone)]
struct Violation {
    at: String,
    problem: Problem,
}

#[derive(Debug, Default)]
struct Report {
    violations: Vec<Violation>,
    statements_checked: usize,
    lambda_permissions_checked: usize,
}

impl Report {
    fn has(&self, pred: impl Fn(&Problem) -> bool) -> bool {
        self.violations.iter().any(|v| pred(&v.problem))
    }

    fn describe(&self) -> String {
        self.violations
            .iter()
            .map(|v| format!("  {}: {:?}", v.at, v.problem))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn push(&mut self, at: &str, problem: Problem) {
        self.violations.push(Violation {
            at: at.to_owned(),
            problem,
        });
    }
}

// ---------------------------------------------------------------------------------------------
// CloudFormation intrinsics, short form (`!If [...]`) and long form (`{"Fn::If": [...]}`).
// ---------------------------------------------------------------------------------------------

/// `("If", args)` for `!If args` or `{Fn::If: args}`; `("Ref", name)` for `!Ref` / `{Ref: ...}`.
fn intrinsic(v: &Value) -> Option<(String, &Value)> {
    match v {
        Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            Some((tag.trim_start_matches('!').to_owned(), &tagged.value))
        }
        Value::Mapping(map) if map.len() == 1 => {
            let (key, args) = map.iter().next()?;
            let key = key.as_str()?;
            if key == "Ref" {
                Some(("Ref".to_owned(), args))
            } else {
                key.strip_prefix("Fn::").map(|name| (name.to_owned(), args))
            }
        }
        _ => None,
    }
}

/// Every value `v` can take once conditions are resolved; `None` is `AWS::NoValue` (absent).
fn branches(v: &Value) -> Vec<Option<&Value>> {
    match intrinsic(v) {
        Some((name, args)) if name == "If" => match args.as_sequence() {
            Some(seq) if seq.len() == 3 => {
                let mut out = branches(&seq[1]);
                out.extend(branches(&seq[2]));
                out
            }
            _ => vec![Some(v)],
        },
        Some((name, args)) if name == "Ref" && args.as_str() == Some("AWS::NoValue") => vec![None],
        _ => vec![Some(v)],
    }
}

/// The elements of a field that may be one item or a list (`Action`, `Resource`, `Statement`),
/// across every branch of every `!If`, at list level and at item level.
fn items(v: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for branch in branches(v).into_iter().flatten() {
        match branch {
            Value::Sequence(seq) => {
                for element in seq {
                    out.extend(branches(element).into_iter().flatten());
                }
            }
            single => out.push(single),
        }
    }
    out
}

/// The text of a plain string or of a `!Sub` template; `None` for anything computed.
/// (Matches `Value::String` itself: `Value::as_str` looks through tags, so it would read
/// `!Ref Param` as the literal "Param".)
fn literal(v: &Value) -> Option<&str> {
    fn plain(v: &Value) -> Option<&str> {
        match v {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
    if let Some(s) = plain(v) {
        return Some(s);
    }
    match intrinsic(v) {
        Some((name, args)) if name == "Sub" => match args {
            Value::Sequence(seq) => seq.first().and_then(plain),
            other => plain(other),
        },
        _ => None,
    }
}

fn get<'a>(map: &'a Value, key: &str) -> Option<&'a Value> {
    map.as_mapping().and_then(|m| m.get(key))
}

// ---------------------------------------------------------------------------------------------
// The checker
// ---------------------------------------------------------------------------------------------

fn check_template(yaml: &str) -> Result<Report, String> {
    let template: Value =
        serde_yaml_ng::from_str(yaml).map_err(|e| format!("template does not parse: {e}"))?;
    let mut report = Report::default();
    walk_for_statements(&template, "$", &mut report);

    let resources = get(&template, "Resources")
        .and_then(Value::as_mapping)
        .ok_or("template has no Resources mapping")?;
    for (name, resource) in resources {
        let name = name.as_str().unwrap_or("?");
        let kind = get(resource, "Type").and_then(Value::as_str).unwrap_or("");
        let Some(props) = get(resource, "Properties") else {
            continue;
        };
        let at = format!("Resources.{name}");
        match kind {
            "AWS::Lambda::Permission" => check_lambda_permission(props, &at, &mut report),
            "AWS::IAM::Role" | "AWS::IAM::User" | "AWS::IAM::Group" => {
                if let Some(arns) = get(props, "ManagedPolicyArns") {
                    for arn in items(arns) {
                        let shown = literal(arn).unwrap_or("<computed>").to_owned();
                        report.push(&at, Problem::UnreviewedPolicy(shown));
                    }
                }
            }
            "AWS::Serverless::Function" | "AWS::Serverless::StateMachine" => {
                // SAM `Policies`: inline documents (mappings with `Statement`) are walked like any
                // other; managed policy names/ARNs and policy templates are not visible here.
                if let Some(policies) = get(props, "Policies") {
                    for policy in items(policies) {
                        if get(policy, "Statement").is_some() {
                            continue;
                        }
                        let shown = match policy {
                            Value::Mapping(m) => m
                                .keys()
                                .next()
                                .and_then(Value::as_str)
                                .unwrap_or("<policy template>")
                                .to_owned(),
                            other => literal(other).unwrap_or("<computed>").to_owned(),
                        };
                        report.push(&at, Problem::UnreviewedPolicy(shown));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(report)
}

fn walk_for_statements(v: &Value, at: &str, report: &mut Report) {
    match v {
        Value::Mapping(map) => {
            if let Some(statements) = map.get("Statement") {
                for (i, statement) in items(statements).into_iter().enumerate() {
                    check_statement(statement, &format!("{at}.Statement[{i}]"), report);
                }
                return;
            }
            for (key, value) in map {
                let key = key.as_str().unwrap_or("?");
                walk_for_statements(value, &format!("{at}.{key}"), report);
            }
        }
        Value::Sequence(seq) => {
            for (i, value) in seq.iter().enumerate() {
                walk_for_statements(value, &format!("{at}[{i}]"), report);
            }
        }
        Value::Tagged(tagged) => walk_for_statements(&tagged.value, at, report),
        _ => {}
    }
}

fn is_wildcard_action(action: &str) -> bool {
    action.contains('*') || action.contains('?')
}

fn star_resource_allowed(action: &str) -> bool {
    STAR_RESOURCE_ALLOWED_ACTIONS
        .iter()
        .any(|allowed| allowed.eq_ignore_ascii_case(action))
}

fn is_forbidden_action(action: &str) -> bool {
    FORBIDDEN_ACTIONS
        .iter()
        .any(|forbidden| forbidden.eq_ignore_ascii_case(action))
}

fn check_statement(statement: &Value, at: &str, report: &mut Report) {
    report.statements_checked += 1;
    let Some(map) = statement.as_mapping() else {
        return;
    };
    // A Deny may name anything; every other statement is read as an Allow.
    let denies = map.get("Effect").and_then(literal) == Some("Deny");
    if map.contains_key("NotAction") {
        report.push(at, Problem::NotAction);
    }
    if map.contains_key("NotResource") {
        report.push(at, Problem::NotResource);
    }

    let mut actions = Vec::new();
    for action in map.get("Action").map(items).unwrap_or_default() {
        match literal(action) {
            Some(text) => {
                if is_wildcard_action(text) {
                    report.push(at, Problem::WildcardAction(text.to_owned()));
                }
                if !denies && is_forbidden_action(text) {
                    report.push(at, Problem::ForbiddenAction(text.to_owned()));
                }
                actions.push(text.to_owned());
            }
            None => report.push(at, Problem::NonLiteralAction),
        }
    }

    let star = map
        .get("Resource")
        .map(items)
        .unwrap_or_default()
        .into_iter()
        .any(|resource| literal(resource) == Some("*"));
    if star {
        let unlisted: Vec<String> = actions
            .iter()
            .filter(|a| !star_resource_allowed(a))
            .cloned()
            .collect();
        if !unlisted.is_empty() || actions.is_empty() {
            report.push(at, Problem::StarResource(unlisted));
        }
    }
}

fn check_lambda_permission(props: &Value, at: &str, report: &mut Report) {
    report.lambda_permissions_checked += 1;
    if let Some(action) = get(props, "Action") {
        for action in items(action) {
            match literal(action) {
                Some(text) if is_wildcard_action(text) => {
                    report.push(at, Problem::WildcardAction(text.to_owned()))
                }
                Some(_) => {}
                None => report.push(at, Problem::NonLiteralAction),
            }
        }
    }

    let for_secrets_manager = get(props, "Principal").is_some_and(|p| {
        items(p)
            .into_iter()
            .filter_map(literal)
            .any(|p| p.starts_with("secretsmanager."))
    });
    if !for_secrets_manager {
        return;
    }
    let source_account_always_set =
        get(props, "SourceAccount").is_some_and(|v| branches(v).iter().all(Option::is_some));
    if !source_account_always_set {
        report.push(at, Problem::SecretsManagerPermissionWithoutSourceAccount);
    }
    let source_arn_ever_set =
        get(props, "SourceArn").is_some_and(|v| branches(v).iter().any(Option::is_some));
    if source_arn_ever_set {
        report.push(at, Problem::SecretsManagerPermissionWithSourceArn);
    }
}

fn check_shipped_template() -> Report {
    let yaml = std::fs::read_to_string(TEMPLATE_PATH)
        .unwrap_or_else(|e| panic!("cannot read {TEMPLATE_PATH}: {e}"));
    check_template(&yaml).unwrap_or_else(|e| panic!("{TEMPLATE_PATH}: {e}"))
}

/// The shipped template, parsed.
fn shipped_template() -> Value {
    let yaml = std::fs::read_to_string(TEMPLATE_PATH)
        .unwrap_or_else(|e| panic!("cannot read {TEMPLATE_PATH}: {e}"));
    serde_yaml_ng::from_str(&yaml).unwrap_or_else(|e| panic!("{TEMPLATE_PATH}: {e}"))
}

/// Every policy statement of a template with the condition it is granted under: the first
/// argument of the `!If` that wraps it in its `Statement` list (`!name` for the else branch),
/// `None` when it is unconditional.
fn conditioned_statements(template: &Value) -> Vec<(Option<String>, &Value)> {
    fn walk<'a>(v: &'a Value, out: &mut Vec<(Option<String>, &'a Value)>) {
        match v {
            Value::Mapping(map) => {
                if let Some(statements) = map.get("Statement") {
                    let list: Vec<&Value> = match statements {
                        Value::Sequence(seq) => seq.iter().collect(),
                        single => vec![single],
                    };
                    for statement in list {
                        match intrinsic(statement) {
                            Some((name, Value::Sequence(args)))
                                if name == "If" && args.len() == 3 =>
                            {
                                let cond = args[0].as_str().unwrap_or("?").to_owned();
                                for s in branches(&args[1]).into_iter().flatten() {
                                    out.push((Some(cond.clone()), s));
                                }
                                for s in branches(&args[2]).into_iter().flatten() {
                                    out.push((Some(format!("!{cond}")), s));
                                }
                            }
                            _ => out.push((None, statement)),
                        }
                    }
                    return;
                }
                map.values().for_each(|value| walk(value, out));
            }
            Value::Sequence(seq) => seq.iter().for_each(|value| walk(value, out)),
            Value::Tagged(tagged) => walk(&tagged.value, out),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(template, &mut out);
    out
}

/// Whether `v` is `!Ref name` (or `{Ref: name}`).
fn is_ref_to(v: &Value, name: &str) -> bool {
    matches!(intrinsic(v), Some((n, arg)) if n == "Ref" && arg.as_str() == Some(name))
}

/// The literal actions of a statement.
fn actions_of(statement: &Value) -> Vec<&str> {
    get(statement, "Action")
        .map(items)
        .unwrap_or_default()
        .into_iter()
        .filter_map(literal)
        .collect()
}

/// Paths of every mapping key or string in `v` equal to `needle` (case-insensitive).
fn mentions(v: &Value, needle: &str, at: &str, out: &mut Vec<String>) {
    match v {
        Value::String(text) if text.eq_ignore_ascii_case(needle) => out.push(at.to_owned()),
        Value::Mapping(map) => {
            for (key, value) in map {
                let key = key.as_str().unwrap_or("?");
                if key.eq_ignore_ascii_case(needle) {
                    out.push(format!("{at}.{key}"));
                }
                mentions(value, needle, &format!("{at}.{key}"), out);
            }
        }
        Value::Sequence(seq) => {
            for (i, value) in seq.iter().enumerate() {
                mentions(value, needle, &format!("{at}[{i}]"), out);
            }
        }
        Value::Tagged(tagged) => mentions(&tagged.value, needle, at, out),
        _ => {}
    }
}

/// Only local stacks may let a token endpoint be plain http on loopback.
const LOCAL_ONLY_SETTINGS: &[&str] = &["ROTATOR_ALLOW_LOOPBACK_HTTP"];

/// Checks a small inline template made of one IAM role policy with the given statements.
fn check_role_statements(statements_yaml: &str) -> Report {
    let indented: String = statements_yaml
        .lines()
        .map(|line| format!("              {line}\n"))
        .collect();
    let yaml = format!(
        "Conditions:
  C: !Equals [a, b]
Resources:
  R:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement:
          - Effect: Allow
            Principal: {{ Service: lambda.amazonaws.com }}
            Action: sts:AssumeRole
      Policies:
        - PolicyName: p
          PolicyDocument:
            Statement:
{indented}"
    );
    check_template(&yaml).expect("inline template parses")
}

/// Checks a small inline template made of one Lambda permission with the given extra properties.
fn check_permission(principal: &str, extra_props_yaml: &str) -> Report {
    let indented: String = extra_props_yaml
        .lines()
        .map(|line| format!("      {line}\n"))
        .collect();
    let yaml = format!(
        "Conditions:
  C: !Equals [a, b]
Resources:
  P:
    Type: AWS::Lambda::Permission
    Properties:
      FunctionName: !GetAtt F.Arn
      Action: lambda:InvokeFunction
      Principal: {principal}
{indented}"
    );
    check_template(&yaml).expect("inline template parses")
}

// ---------------------------------------------------------------------------------------------
// The shipped template
// ---------------------------------------------------------------------------------------------

#[test]
fn the_shipped_template_parses_with_its_cloudformation_short_form_tags() {
    let yaml = std::fs::read_to_string(TEMPLATE_PATH).expect("template.yaml is readable");
    let template: Value = serde_yaml_ng::from_str(&yaml).expect("template.yaml parses");
    let resources = get(&template, "Resources").expect("Resources");
    for function in ["RotationFunction", "DriftAuditFunction"] {
        let role = get(resources, function)
            .and_then(|f| get(f, "Properties"))
            .and_then(|p| get(p, "Role"))
            .unwrap_or_else(|| panic!("{function} has an explicit Role"));
        let (name, _) = intrinsic(role).expect("Role is an intrinsic");
        assert_eq!(name, "GetAtt", "{function}.Role is a !GetAtt");
    }
}

#[test]
fn the_shipped_template_grants_no_wildcard_action_and_no_unlisted_star_resource() {
    let report = check_shipped_template();
    assert!(
        report.violations.is_empty(),
        "template.yaml violates the policy rules:\n{}",
        report.describe()
    );
    // Guard against a checker that silently stopped finding statements.
    assert!(
        report.statements_checked >= 20,
        "only {} statements found in template.yaml",
        report.statements_checked
    );
}

#[test]
fn the_shipped_template_lets_secrets_manager_invoke_the_rotation_function_by_source_account() {
    let yaml = std::fs::read_to_string(TEMPLATE_PATH).expect("template.yaml is readable");
    let template: Value = serde_yaml_ng::from_str(&yaml).expect("template.yaml parses");
    let props = get(&template, "Resources")
        .and_then(|r| get(r, "RotationInvokePermission"))
        .and_then(|p| get(p, "Properties"))
        .expect("RotationInvokePermission exists");
    assert_eq!(
        get(props, "Principal").and_then(literal),
        Some("secretsmanager.amazonaws.com")
    );
    assert!(get(props, "SourceAccount").is_some());
    assert!(get(props, "SourceArn").is_none());
    assert!(check_shipped_template().lambda_permissions_checked >= 1);
}

#[test]
fn no_role_in_the_shipped_template_may_write_tags_resource_policies_or_secret_settings() {
    let report = check_shipped_template();
    let forbidden: Vec<_> = report
        .violations
        .iter()
        .filter(|v| matches!(v.problem, Problem::ForbiddenAction(_)))
        .collect();
    assert!(forbidden.is_empty(), "{forbidden:?}");
    // The same, read directly: no Allow names a forbidden action, in any branch.
    let template = shipped_template();
    for (cond, statement) in conditioned_statements(&template) {
        if get(statement, "Effect").and_then(literal) == Some("Deny") {
            continue;
        }
        for action in actions_of(statement) {
            assert!(
                !is_forbidden_action(action),
                "{action} allowed (condition {cond:?})"
            );
        }
    }
}

#[test]
fn the_audit_checks_rotation_functions_with_a_read_that_returns_no_environment_or_code() {
    let template = shipped_template();
    let lambda_reads: Vec<&str> = conditioned_statements(&template)
        .into_iter()
        .flat_map(|(_, statement)| actions_of(statement))
        .filter(|a| a.to_ascii_lowercase().starts_with("lambda:") && *a != "lambda:InvokeFunction")
        .collect();
    assert_eq!(lambda_reads, ["lambda:GetFunctionConcurrency"]);
}

#[test]
fn the_data_plane_probe_is_granted_only_with_a_workload_and_only_on_the_listed_providers() {
    let template = shipped_template();
    let conditions = get(&template, "Conditions").expect("Conditions");
    // ProbeListedProviders implies HasWorkload.
    let listed = get(conditions, "ProbeListedProviders").expect("ProbeListedProviders");
    let (name, args) = intrinsic(listed).expect("an intrinsic");
    assert_eq!(name, "And");
    assert!(
        items(args).into_iter().any(|c| matches!(
            intrinsic(c),
            Some((n, v)) if n == "Condition" && v.as_str() == Some("HasWorkload")
        )),
        "ProbeListedProviders requires HasWorkload"
    );
    assert!(
        get(&template, "Rules")
            .and_then(|r| get(r, "ProbeNeedsProviderArns"))
            .is_some(),
        "a workload without a provider list is refused at deploy time"
    );

    const DATA_PLANE: &[&str] = &[
        "bedrock-agentcore:GetWorkloadAccessToken",
        "bedrock-agentcore:GetResourceApiKey",
        "bedrock-agentcore:GetResourceOauth2Token",
    ];
    let mut provider_grants = 0;
    for (cond, statement) in conditioned_statements(&template) {
        let actions = actions_of(statement);
        if !actions.iter().any(|a| DATA_PLANE.contains(a)) {
            continue;
        }
        assert!(
            matches!(
                cond.as_deref(),
                Some("HasWorkload" | "ProbeListedProviders")
            ),
            "data-plane actions {actions:?} granted under {cond:?}"
        );
        let resources = get(statement, "Resource").expect("Resource");
        if is_ref_to(resources, "ProbeCredentialProviderArns") {
            assert_eq!(cond.as_deref(), Some("ProbeListedProviders"));
            provider_grants += 1;
            continue;
        }
        // Otherwise only the named workload identity and the vault, never a provider pattern.
        const CONTAINERS: &[&str] = &[
            ":workload-identity-directory/default",
            ":workload-identity-directory/default/workload-identity/${WorkloadIdentityName}",
            ":token-vault/default",
        ];
        for resource in items(resources) {
            let text = literal(resource).unwrap_or("<computed>");
            assert!(
                CONTAINERS.iter().any(|c| text.ends_with(c)),
                "data-plane actions {actions:?} granted on {text}"
            );
        }
    }
    assert_eq!(
        provider_grants, 1,
        "one statement grants the listed providers"
    );
}

#[test]
fn both_roles_may_describe_the_configured_user_pools_and_nothing_else() {
    let template = shipped_template();
    let describes: Vec<_> = conditioned_statements(&template)
        .into_iter()
        .filter(|(_, s)| actions_of(s).contains(&"cognito-idp:DescribeUserPool"))
        .collect();
    assert_eq!(describes.len(), 2, "rotation role and audit role");
    for (cond, statement) in describes {
        assert_eq!(cond.as_deref(), Some("HasCognitoPools"));
        let resource = get(statement, "Resource").expect("Resource");
        assert!(is_ref_to(resource, "CognitoUserPoolArns"), "{resource:?}");
    }
}

#[test]
fn both_functions_get_the_allowed_token_origins_from_their_parameter() {
    let template = shipped_template();
    let parameter = get(&template, "Parameters")
        .and_then(|p| get(p, "AllowedTokenOrigins"))
        .expect("parameter AllowedTokenOrigins");
    assert_eq!(
        get(parameter, "Default").and_then(Value::as_str),
        Some(""),
        "by default a document may name no token endpoint"
    );
    let variable = get(&template, "Globals")
        .and_then(|g| get(g, "Function"))
        .and_then(|f| get(f, "Environment"))
        .and_then(|e| get(e, "Variables"))
        .and_then(|v| get(v, "ROTATOR_ALLOWED_TOKEN_ORIGINS"))
        .expect("Globals set ROTATOR_ALLOWED_TOKEN_ORIGINS for both functions");
    let (name, args) = intrinsic(variable).expect("!Join");
    assert_eq!(name, "Join");
    let join = args.as_sequence().map(Vec::as_slice);
    assert!(
        matches!(join, Some([sep, list]) if sep.as_str() == Some(",") && is_ref_to(list, "AllowedTokenOrigins")),
        "{variable:?}"
    );
}

#[test]
fn the_shipped_template_cannot_set_local_only_settings() {
    let template = shipped_template();
    for setting in LOCAL_ONLY_SETTINGS {
        let mut found = Vec::new();
        mentions(&template, setting, "$", &mut found);
        assert!(found.is_empty(), "{setting} appears at {found:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// The checker catches each violation
// ---------------------------------------------------------------------------------------------

#[test]
fn a_bare_star_action_is_reported() {
    let report = check_role_statements(
        "- Effect: Allow
  Action: \"*\"
  Resource: arn:aws:s3:::bucket",
    );
    assert!(report.has(|p| *p == Problem::WildcardAction("*".into())));
}

#[test]
fn a_service_wide_wildcard_action_is_reported() {
    let report = check_role_statements(
        "- Effect: Allow
  Action: [s3:GetObject, \"s3:*\"]
  Resource: arn:aws:s3:::bucket/*",
    );
    assert!(report.has(|p| *p == Problem::WildcardAction("s3:*".into())));
}

#[test]
fn a_prefix_wildcard_action_like_get_star_is_reported() {
    let report = check_role_statements(
        "- Effect: Allow
  Action: secretsmanager:Get*
  Resource: !Sub arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:x",
    );
    assert!(report.has(|p| *p == Problem::WildcardAction("secretsmanager:Get*".into())));
}

#[test]
fn a_single_character_wildcard_action_is_reported() {
    let report = check_role_statements(
        "- Effect: Allow
  Action: kms:Decryp?
  Resource: arn:aws:kms:us-east-1:111122223333:key/k",
    );
    assert!(report.has(|p| *p == Problem::WildcardAction("kms:Decryp?".into())));
}

#[test]
fn a_wildcard_action_in_either_branch_of_a_short_form_if_is_reported() {
    let in_statement_list = check_role_statements(
        "- !If
  - C
  - Effect: Allow
    Action: ec2:Describe*
    Resource: arn:aws:ec2:us-east-1:111122223333:instance/i-1
  - !Ref AWS::NoValue",
    );
    assert!(in_statement_list.has(|p| *p == Problem::WildcardAction("ec2:Describe*".into())));

    let in_action_list = check_role_statements(
        "- Effect: Allow
  Action:
    - sqs:SendMessage
    - !If [C, sqs:ReceiveMessage, \"sqs:*\"]
  Resource: arn:aws:sqs:us-east-1:111122223333:q",
    );
    assert!(in_action_list.has(|p| *p == Problem::WildcardAction("sqs:*".into())));
}

#[test]
fn a_wildcard_action_in_a_long_form_fn_if_is_reported() {
    let report = check_role_statements(
        "- Fn::If:
    - C
    - Effect: Allow
      Action: sqs:SendMessage
      Resource: arn:aws:sqs:us-east-1:111122223333:q
    - Effect: Allow
      Action: \"iam:*\"
      Resource: arn:aws:iam::111122223333:role/x",
    );
    assert!(report.has(|p| *p == Problem::WildcardAction("iam:*".into())));
}

#[test]
fn a_wildcard_action_in_a_sam_function_inline_policy_is_reported() {
    let report = check_template(
        "Resources:
  F:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - Effect: Allow
              Action: dynamodb:*
              Resource: !GetAtt T.Arn
",
    )
    .expect("parses");
    assert!(report.has(|p| *p == Problem::WildcardAction("dynamodb:*".into())));
}

#[test]
fn a_wildcard_action_on_a_lambda_permission_is_reported() {
    let report = check_template(
        "Resources:
  P:
    Type: AWS::Lambda::Permission
    Properties:
      FunctionName: !Ref F
      Action: lambda:*
      Principal: events.amazonaws.com
      SourceArn: !GetAtt Rule.Arn
",
    )
    .expect("parses");
    assert!(report.has(|p| *p == Problem::WildcardAction("lambda:*".into())));
}

#[test]
fn not_action_is_reported() {
    let report = check_role_statements(
        "- Effect: Allow
  NotAction: iam:CreateUser
  Resource: arn:aws:iam::111122223333:user/x",
    );
    assert!(report.has(|p| *p == Problem::NotAction));
}

#[test]
fn not_resource_is_reported() {
    let report = check_role_statements(
        "- Effect: Allow
  Action: s3:GetObject
  NotResource: arn:aws:s3:::private/*",
    );
    assert!(report.has(|p| *p == Problem::NotResource));
}

#[test]
fn an_action_computed_by_an_intrinsic_is_reported() {
    let report = check_role_statements(
        "- Effect: Allow
  Action: !Ref ActionParameter
  Resource: arn:aws:s3:::bucket",
    );
    assert!(report.has(|p| *p == Problem::NonLiteralAction));
}

#[test]
fn a_star_resource_for_an_action_off_the_allow_list_is_reported() {
    let report = check_role_statements(
        "- Effect: Allow
  Action: secretsmanager:GetSecretValue
  Resource: \"*\"",
    );
    let expected = Problem::StarResource(vec!["secretsmanager:GetSecretValue".into()]);
    assert!(report.has(|p| *p == expected));
}

#[test]
fn a_star_resource_hidden_in_a_list_or_an_if_is_reported() {
    let in_list = check_role_statements(
        "- Effect: Allow
  Action: kms:Decrypt
  Resource: [arn:aws:kms:us-east-1:111122223333:key/k, \"*\"]",
    );
    assert!(in_list.has(|p| matches!(p, Problem::StarResource(_))));

    let in_if = check_role_statements(
        "- Effect: Allow
  Action: kms:Decrypt
  Resource: !If [C, arn:aws:kms:us-east-1:111122223333:key/k, \"*\"]",
    );
    assert!(in_if.has(|p| matches!(p, Problem::StarResource(_))));

    let as_sub = check_role_statements(
        "- Effect: Allow
  Action: kms:Decrypt
  Resource: !Sub \"*\"",
    );
    assert!(as_sub.has(|p| matches!(p, Problem::StarResource(_))));
}

#[test]
fn a_star_resource_mixing_an_allowed_and_an_unlisted_action_reports_the_unlisted_one() {
    let report = check_role_statements(
        "- Effect: Allow
  Action: [secretsmanager:ListSecrets, secretsmanager:DeleteSecret]
  Resource: \"*\"",
    );
    assert!(report.has(|p| *p == Problem::StarResource(vec!["secretsmanager:DeleteSecret".into()])));
}

#[test]
fn a_star_resource_for_allow_listed_actions_is_accepted() {
    let report = check_role_statements(
        "- Effect: Allow
  Action: [secretsmanager:ListSecrets, secretsmanager:BatchGetSecretValue]
  Resource: \"*\"",
    );
    assert!(report.violations.is_empty(), "{}", report.describe());
}

#[test]
fn an_arn_pattern_ending_in_a_wildcard_is_not_a_star_resource() {
    let report = check_role_statements(
        "- Effect: Allow
  Action: secretsmanager:DescribeSecret
  Resource: !Sub arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:*",
    );
    assert!(report.violations.is_empty(), "{}", report.describe());
}

#[test]
fn a_secrets_manager_invoke_permission_without_source_account_is_reported() {
    let report = check_permission("secretsmanager.amazonaws.com", "");
    assert!(report.has(|p| *p == Problem::SecretsManagerPermissionWithoutSourceAccount));
}

#[test]
fn a_secrets_manager_invoke_permission_whose_source_account_may_be_absent_is_reported() {
    let report = check_permission(
        "secretsmanager.amazonaws.com",
        "SourceAccount: !If [C, !Ref AWS::AccountId, !Ref AWS::NoValue]",
    );
    assert!(report.has(|p| *p == Problem::SecretsManagerPermissionWithoutSourceAccount));
}

#[test]
fn a_secrets_manager_invoke_permission_with_source_arn_is_reported() {
    let report = check_permission(
        "secretsmanager.amazonaws.com",
        "SourceAccount: !Ref AWS::AccountId
SourceArn: !Ref TheOneSecret",
    );
    assert!(report.has(|p| *p == Problem::SecretsManagerPermissionWithSourceArn));
    assert!(!report.has(|p| *p == Problem::SecretsManagerPermissionWithoutSourceAccount));
}

#[test]
fn a_secrets_manager_principal_written_with_sub_is_still_recognised() {
    let report = check_permission("!Sub secretsmanager.${AWS::URLSuffix}", "");
    assert!(report.has(|p| *p == Problem::SecretsManagerPermissionWithoutSourceAccount));
}

#[test]
fn a_secrets_manager_invoke_permission_with_source_account_only_is_accepted() {
    let report = check_permission(
        "secretsmanager.amazonaws.com",
        "SourceAccount: !Ref AWS::AccountId",
    );
    assert!(report.violations.is_empty(), "{}", report.describe());
}

#[test]
fn an_eventbridge_invoke_permission_may_use_source_arn() {
    let report = check_permission("events.amazonaws.com", "SourceArn: !GetAtt Rule.Arn");
    assert!(report.violations.is_empty(), "{}", report.describe());
}

#[test]
fn an_attached_managed_policy_is_reported_because_its_statements_cannot_be_checked() {
    let report = check_template(
        "Resources:
  R:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement:
          - Effect: Allow
            Principal: { Service: lambda.amazonaws.com }
            Action: sts:AssumeRole
      ManagedPolicyArns:
        - !Sub arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole
",
    )
    .expect("parses");
    assert!(report.has(|p| matches!(p, Problem::UnreviewedPolicy(_))));
}

#[test]
fn a_sam_policy_template_is_reported_because_its_statements_cannot_be_checked() {
    let report = check_template(
        "Resources:
  F:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - AWSSecretsManagerRotationPolicy:
            FunctionName: f
",
    )
    .expect("parses");
    let expected = Problem::UnreviewedPolicy("AWSSecretsManagerRotationPolicy".into());
    assert!(report.has(|p| *p == expected));
}

#[test]
fn a_trust_policy_statement_without_resource_is_accepted() {
    let report = check_role_statements(
        "- Effect: Allow
  Action: logs:PutLogEvents
  Resource: arn:aws:logs:us-east-1:111122223333:log-group:g:*",
    );
    assert!(report.violations.is_empty(), "{}", report.describe());
    // The helper's role also has a trust policy (Principal, no Resource): two statements seen.
    assert_eq!(report.statements_checked, 2);
}

#[test]
fn allowing_a_secret_tag_or_policy_write_is_reported_in_any_spelling_and_branch() {
    for action in [
        "secretsmanager:TagResource",
        "secretsmanager:UntagResource",
        "SecretsManager:putResourcePolicy",
        "secretsmanager:UpdateSecret",
    ] {
        let report = check_role_statements(&format!(
            "- !If
  - C
  - Effect: Allow
    Action: [secretsmanager:GetSecretValue, {action}]
    Resource: arn:aws:secretsmanager:us-east-1:111122223333:secret:s-AbCdEf
  - !Ref AWS::NoValue"
        ));
        assert!(
            report.has(|p| *p == Problem::ForbiddenAction(action.into())),
            "{action}: {}",
            report.describe()
        );
    }
}

#[test]
fn allowing_lambda_get_function_is_reported() {
    let report = check_role_statements(
        "- Effect: Allow
  Action: lambda:GetFunction
  Resource: arn:aws:lambda:us-east-1:111122223333:function:*",
    );
    assert!(report.has(|p| *p == Problem::ForbiddenAction("lambda:GetFunction".into())));
}

#[test]
fn denying_a_forbidden_action_is_accepted() {
    let report = check_role_statements(
        "- Effect: Deny
  Action: [secretsmanager:TagResource, secretsmanager:UntagResource]
  Resource: arn:aws:secretsmanager:us-east-1:111122223333:secret:*",
    );
    assert!(report.violations.is_empty(), "{}", report.describe());
}

#[test]
fn a_local_only_setting_anywhere_in_a_template_is_found() {
    let template: Value = serde_yaml_ng::from_str(
        "Globals:
  Function:
    Environment:
      Variables:
        ROTATOR_ALLOW_LOOPBACK_HTTP: !Ref AllowLoopback
Resources:
  F:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          OTHER: !If [C, rotator_allow_loopback_http, x]
",
    )
    .expect("parses");
    let mut found = Vec::new();
    mentions(&template, "ROTATOR_ALLOW_LOOPBACK_HTTP", "$", &mut found);
    assert_eq!(found.len(), 2, "{found:?}");
}

#[test]
fn both_roles_may_sign_only_raw_messages_with_the_configured_idp_key_and_only_when_it_is_set() {
    let template = shipped_template();
    let kms_idp: Vec<_> = conditioned_statements(&template)
        .into_iter()
        .filter(|(_, s)| {
            actions_of(s)
                .iter()
                .any(|a| *a == "kms:Sign" || *a == "kms:GetPublicKey")
        })
        .collect();
    assert_eq!(kms_idp.len(), 4, "Sign and GetPublicKey, in both roles");
    for (cond, statement) in &kms_idp {
        assert_eq!(cond.as_deref(), Some("HasIdpSigningKey"));
        let resource = get(statement, "Resource").expect("Resource");
        assert!(is_ref_to(resource, "IdpSigningKeyArn"), "{resource:?}");
        let actions = actions_of(statement);
        assert_eq!(actions.len(), 1, "{actions:?}");
        if actions[0] == "kms:Sign" {
            let raw = get(statement, "Condition")
                .and_then(|c| get(c, "StringEquals"))
                .and_then(|c| get(c, "kms:MessageType"))
                .and_then(Value::as_str);
            assert_eq!(raw, Some("RAW"), "no signing of pre-hashed digests");
        }
    }
    let variables = get(&template, "Globals")
        .and_then(|g| get(g, "Function"))
        .and_then(|f| get(f, "Environment"))
        .and_then(|e| get(e, "Variables"))
        .expect("Globals environment");
    for (variable, parameter) in [
        ("ROTATOR_IDP_SIGNING_KEY_ID", "IdpSigningKeyArn"),
        ("ROTATOR_OKTA_ORG_URL", "OktaOrgUrl"),
        ("ROTATOR_OKTA_ADMIN_CLIENT_ID", "OktaAdminClientId"),
        ("ROTATOR_KEYCLOAK_URL", "KeycloakUrl"),
        ("ROTATOR_KEYCLOAK_ADMIN_CLIENT_ID", "KeycloakAdminClientId"),
        ("ROTATOR_KEYCLOAK_ADMIN_REALM", "KeycloakAdminRealm"),
    ] {
        let v = get(variables, variable).unwrap_or_else(|| panic!("{variable} not set"));
        assert!(is_ref_to(v, parameter), "{variable}: {v:?}");
        let default = get(&template, "Parameters")
            .and_then(|p| get(p, parameter))
            .and_then(|p| get(p, "Default"))
            .and_then(Value::as_str);
        assert_eq!(default, Some(""), "{parameter} is off by default");
    }
}

#[test]
fn both_roles_may_mint_web_identity_tokens_only_for_entra_and_only_when_configured() {
    let template = shipped_template();
    let minting: Vec<_> = conditioned_statements(&template)
        .into_iter()
        .filter(|(_, s)| actions_of(s).contains(&"sts:GetWebIdentityToken"))
        .collect();
    assert_eq!(minting.len(), 2, "rotation role and audit role");
    for (cond, statement) in minting {
        assert_eq!(cond.as_deref(), Some("HasEntra"));
        assert_eq!(actions_of(statement), ["sts:GetWebIdentityToken"]);
        let condition = get(statement, "Condition").expect("Condition");
        let audience = get(condition, "ForAllValues:StringEquals")
            .and_then(|c| get(c, "sts:IdentityTokenAudience"))
            .and_then(Value::as_str);
        assert_eq!(audience, Some("api://AzureADTokenExchange"));
        let present = get(condition, "Null")
            .and_then(|c| get(c, "sts:IdentityTokenAudience"))
            .and_then(Value::as_str);
        assert_eq!(present, Some("false"), "an audience must be named");
        let lifetime =
            get(condition, "NumericLessThanEquals").and_then(|c| get(c, "sts:DurationSeconds"));
        assert!(lifetime.is_some(), "the token lifetime is capped");
    }
}
