//! Which live upstream secret belongs to which secret version.
//!
//! Where the IdP assigns the id after we chose the value (Cognito), a version cannot record its
//! own id: versions are immutable once stored. Instead each version records the ids that were
//! live *before* its value was pushed (`rotationState.upstreamIdsBefore`). A version's secret is
//! then the live id that is new relative to that version and, if a later version exists, already
//! present before the later one was pushed. When several ids qualify (someone added a secret at
//! the IdP after the rotation), the version's is the one created first: setSecret pushes once and
//! takes the first new id as its own on retry, so anything created later is not the version's.
//! Without creation dates for all of them, or with a tie, it stays ambiguous.

use crate::secret_doc::SecretDocument;

use super::UpstreamSecret;

/// What we know about the upstream secret behind one version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lineage {
    /// Exactly this live upstream secret.
    Live(String),
    /// The version's secret is no longer live upstream (or was never pushed).
    Absent,
    /// More than one live secret could be this version's; nothing may be removed on a guess.
    Ambiguous(Vec<String>),
}

impl Lineage {
    pub fn id(&self) -> Option<&str> {
        match self {
            Lineage::Live(id) => Some(id),
            _ => None,
        }
    }
}

/// Resolves the upstream secret of `doc`, given the document of the version that followed it
/// (if any) and the secrets live now.
pub fn resolve(
    doc: &SecretDocument,
    later: Option<&SecretDocument>,
    live: &[UpstreamSecret],
) -> Lineage {
    if let Some(id) = &doc.client_secret_id {
        return if live.iter().any(|s| &s.id == id) {
            Lineage::Live(id.clone())
        } else {
            Lineage::Absent
        };
    }
    let before = doc.state.as_ref().map(|s| s.upstream_ids_before.as_slice());
    let later_before = later
        .and_then(|l| l.state.as_ref())
        .map(|s| s.upstream_ids_before.as_slice());
    let candidates: Vec<&UpstreamSecret> = live
        .iter()
        .filter(|s| before.is_none_or(|b| !b.contains(&s.id)))
        .filter(|s| later_before.is_none_or(|b| b.contains(&s.id)))
        .collect();
    match candidates.as_slice() {
        [] => Lineage::Absent,
        [one] => Lineage::Live(one.id.clone()),
        // Only a version the rotator pushed (it has a snapshot) has a first-created secret.
        many if before.is_some() => first_created(many).map_or_else(
            || Lineage::Ambiguous(many.iter().map(|s| s.id.clone()).collect()),
            |s| Lineage::Live(s.id.clone()),
        ),
        many => Lineage::Ambiguous(many.iter().map(|s| s.id.clone()).collect()),
    }
}

/// The secret created strictly before every other one, if all creation dates are known.
fn first_created<'a>(secrets: &[&'a UpstreamSecret]) -> Option<&'a UpstreamSecret> {
    let mut dated: Vec<(std::time::SystemTime, &UpstreamSecret)> = secrets
        .iter()
        .map(|s| s.created.map(|c| (c, *s)))
        .collect::<Option<_>>()?;
    dated.sort_by_key(|(c, _)| *c);
    match dated.as_slice() {
        [(first, s), (second, _), ..] if first < second => Some(*s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sensitive::SecretString;
    use serde_json::json;

    fn doc(id: Option<&str>, before: Option<&[&str]>) -> SecretDocument {
        let mut v = json!({
            "clientId": "c", "clientSecret": "v", "clientSecretId": id,
            "rotation": {"idp": "cognito", "userPoolId": "us-east-1_X", "tokenEndpoint": "https://x/t"}
        });
        if let Some(b) = before {
            v["rotationState"] = json!({"upstreamIdsBefore": b, "createdAt": 1});
        }
        SecretDocument::parse(Some(&SecretString::new(v.to_string()))).unwrap()
    }

    fn dated(ids: &[(&str, u64)]) -> Vec<UpstreamSecret> {
        ids.iter()
            .map(|(id, at)| UpstreamSecret {
                id: id.to_string(),
                created: Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(*at)),
            })
            .collect()
    }

    #[test]
    fn a_secret_added_after_the_rotation_is_not_the_versions() {
        let current = doc(None, Some(&["a"]));
        // b was pushed by the rotation; c was added at the IdP later.
        assert_eq!(
            resolve(&current, None, &dated(&[("a", 1), ("b", 5), ("c", 9)])),
            Lineage::Live("b".into())
        );
        // Same second, or a date missing: no guess.
        assert_eq!(
            resolve(&current, None, &dated(&[("b", 5), ("c", 5)])),
            Lineage::Ambiguous(vec!["b".into(), "c".into()])
        );
        assert_eq!(
            resolve(&current, None, &live(&["b", "c"])),
            Lineage::Ambiguous(vec!["b".into(), "c".into()])
        );
        // A document the rotator never pushed has no first secret.
        assert_eq!(
            resolve(&doc(None, None), None, &dated(&[("b", 5), ("c", 9)])),
            Lineage::Ambiguous(vec!["b".into(), "c".into()])
        );
    }

    fn live(ids: &[&str]) -> Vec<UpstreamSecret> {
        ids.iter()
            .map(|id| UpstreamSecret {
                id: id.to_string(),
                created: None,
            })
            .collect()
    }

    #[test]
    fn a_recorded_id_wins_when_live() {
        assert_eq!(
            resolve(&doc(Some("a"), None), None, &live(&["a", "b"])),
            Lineage::Live("a".into())
        );
        assert_eq!(
            resolve(&doc(Some("z"), None), None, &live(&["a"])),
            Lineage::Absent
        );
    }

    #[test]
    fn pending_is_the_id_that_appeared_after_it_was_created() {
        let pending = doc(None, Some(&["a", "b"]));
        assert_eq!(resolve(&pending, None, &live(&["a", "b"])), Lineage::Absent);
        assert_eq!(
            resolve(&pending, None, &live(&["b", "c"])),
            Lineage::Live("c".into())
        );
    }

    #[test]
    fn current_is_bounded_by_the_pending_versions_snapshot() {
        let current = doc(None, Some(&["a"]));
        let pending = doc(None, Some(&["a", "b"]));
        // c was pushed for pending; b belongs to current.
        assert_eq!(
            resolve(&current, Some(&pending), &live(&["a", "b", "c"])),
            Lineage::Live("b".into())
        );
    }

    #[test]
    fn unknown_history_with_several_live_secrets_is_ambiguous() {
        let current = doc(None, None);
        assert_eq!(
            resolve(&current, None, &live(&["a", "b"])),
            Lineage::Ambiguous(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            resolve(&current, None, &live(&["a"])),
            Lineage::Live("a".into())
        );
    }
}
