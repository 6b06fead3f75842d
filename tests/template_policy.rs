//! Offline least-privilege checks of `template.yaml`.
//!
//! The checker below parses the SAM template (CloudFormation short-form tags such as `!Ref`,
//! `!Sub`, `!GetAtt` and `!If` included) and reports:
//! - any wildcard action (`"*"`, `service:*`, `service:Get*`, `?`), in every branch of `!If`;
//! - `NotAction` / `NotResource`, and actions it cannot read as literals;
//! - a `Resource: "*"` whose actions are not all on [`STAR_RESOURCE_ALLOWED_ACTIONS`];
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

fn check_statement(statement: &Value, at: &str, report: &mut Report) {
    report.statements_checked += 1;
    let Some(map) = statement.as_mapping() else {
        return;
    };
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
