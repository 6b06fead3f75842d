//! Which live upstream secret belongs to which secret version.
//!
//! Where the IdP assigns the id after we chose the value (Cognito), a version cannot record its
//! own id: versions are immutable once stored. Instead each version records the ids that were
//! live *before* its value was pushed (`rotationState.upstreamIdsBefore`). A version's secret is
//! then the live id that is new relative to that version and, if a later version exists, already
//! present before the later one was pushed.

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
    let candidates: Vec<String> = live
        .iter()
        .map(|s| &s.id)
        .filter(|id| before.is_none_or(|b| !b.contains(id)))
        .filter(|id| later_before.is_none_or(|b| b.contains(id)))
        .cloned()
        .collect();
    match candidates.len() {
        0 => Lineage::Absent,
        1 => Lineage::Live(candidates.into_iter().next().unwrap_or_default()),
        _ => Lineage::Ambiguous(candidates),
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
