//! What this secret's own versions say about the live upstream secrets, read at createSecret:
//! which one is AWSCURRENT's, and which were created by versions that replaced AWSCURRENT but
//! never stayed current (rolled back, or abandoned after setSecret). Those are "leftovers": ours,
//! unused, and removed by the next setSecret. A live secret no version accounts for is never
//! removed: it may be someone else's.

use super::{RotationError, Rotator};
use crate::secret_doc::SecretDocument;
use crate::secrets::store::{VersionRef, AWSCURRENT, AWSPREVIOUS};
use crate::secrets::SecretMeta;
use crate::upstream::lineage::{resolve_version, Lineage, Version};
use crate::upstream::UpstreamSecret;

/// Unlabelled versions read at most when looking for abandoned rotations.
const MAX_UNLABELLED_READS: usize = 10;

#[derive(Debug, PartialEq)]
pub struct Attribution {
    /// The secret behind AWSCURRENT.
    pub current: Lineage,
    /// Live secrets of rolled-back or abandoned versions.
    pub leftovers: Vec<String>,
}

/// Attributes the live secrets at createSecret. AWSPREVIOUS is read when it may be a rolled-back
/// successor of AWSCURRENT; the unlabelled versions are listed and read only when some live
/// secret is still unaccounted for. Every read error but "not found" fails the step.
pub async fn at_create(
    r: &Rotator,
    secret: &str,
    desc: &SecretMeta,
    token: &str,
    current: Version<'_>,
    live: &[UpstreamSecret],
) -> Result<Attribution, RotationError> {
    let mut successors: Vec<(String, SecretDocument)> = Vec::new();
    let previous_id = desc.version_with(AWSPREVIOUS).map(str::to_string);
    if let Some(prev) = previous_id.as_deref().filter(|p| *p != current.id) {
        if let Some(doc) = read_successor(r, secret, prev, current.id).await? {
            successors.push((prev.to_string(), doc));
        }
    }
    let mut attribution = attribute(current, &successors, live);
    if unaccounted(current, previous_id.as_deref(), &attribution, live).is_empty() {
        return Ok(attribution);
    }
    let mut others: Vec<_> = r
        .store
        .list_versions(secret)
        .await?
        .into_iter()
        .filter(|v| v.id != token && v.id != current.id && Some(&v.id) != previous_id.as_ref())
        .filter(|v| !v.stages.iter().any(|s| s == AWSCURRENT))
        .collect();
    others.sort_by_key(|v| std::cmp::Reverse(v.created));
    for v in others.into_iter().take(MAX_UNLABELLED_READS) {
        if let Some(doc) = read_successor(r, secret, &v.id, current.id).await? {
            successors.push((v.id, doc));
        }
    }
    attribution = attribute(current, &successors, live);
    Ok(attribution)
}

/// The version's document if it was created to replace `current_id`.
async fn read_successor(
    r: &Rotator,
    secret: &str,
    version: &str,
    current_id: &str,
) -> Result<Option<SecretDocument>, RotationError> {
    let Some(payload) = r.store.get_value(secret, VersionRef::Id(version)).await? else {
        return Ok(None);
    };
    // A document we cannot parse did not come from this rotator; it accounts for nothing.
    let Ok(doc) = SecretDocument::parse(payload.text()) else {
        return Ok(None);
    };
    let replaces_current = doc
        .state
        .as_ref()
        .and_then(|s| s.supersedes.as_ref())
        .is_some_and(|s| s.version_id == current_id);
    Ok(replaces_current.then_some(doc))
}

/// Pure part: AWSCURRENT's secret, and each successor's own secret (bounded by the snapshots
/// of the successors created after it).
pub fn attribute(
    current: Version<'_>,
    successors: &[(String, SecretDocument)],
    live: &[UpstreamSecret],
) -> Attribution {
    let versions: Vec<Version<'_>> = successors
        .iter()
        .map(|(id, doc)| Version { id, doc })
        .collect();
    let current_lineage = resolve_version(current, &versions, live);
    let mut ordered = versions.clone();
    ordered.sort_by_key(|v| {
        v.doc
            .state
            .as_ref()
            .map_or((0, 0), |s| (s.created_at, s.upstream_ids_before.len()))
    });
    let mut leftovers = Vec::new();
    for (i, v) in ordered.iter().enumerate() {
        if let Lineage::Live(id) = resolve_version(*v, &ordered[i + 1..], live) {
            if Some(id.as_str()) != current_lineage.id() && !leftovers.contains(&id) {
                leftovers.push(id);
            }
        }
    }
    Attribution {
        current: current_lineage,
        leftovers,
    }
}

/// Live secrets neither AWSCURRENT's, nor AWSPREVIOUS's as AWSCURRENT recorded it, nor
/// leftovers.
fn unaccounted<'a>(
    current: Version<'_>,
    previous_id: Option<&str>,
    attribution: &Attribution,
    live: &'a [UpstreamSecret],
) -> Vec<&'a str> {
    let recorded_previous = current
        .doc
        .state
        .as_ref()
        .and_then(|s| s.supersedes.as_ref())
        .filter(|s| Some(s.version_id.as_str()) == previous_id)
        .and_then(|s| s.upstream_id.as_deref());
    live.iter()
        .map(|s| s.id.as_str())
        .filter(|id| Some(*id) != attribution.current.id())
        .filter(|id| Some(*id) != recorded_previous)
        .filter(|id| !attribution.leftovers.iter().any(|l| l == id))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sensitive::SecretString;
    use serde_json::json;

    fn live(ids: &[&str]) -> Vec<UpstreamSecret> {
        ids.iter()
            .map(|id| UpstreamSecret {
                id: id.to_string(),
                created: None,
                label: None,
            })
            .collect()
    }

    fn doc(state: serde_json::Value) -> SecretDocument {
        let v = json!({"clientId": "c", "clientSecret": "v",
            "rotation": {"idp": "cognito", "userPoolId": "us-east-1_X"}, "rotationState": state});
        SecretDocument::parse(Some(&SecretString::new(v.to_string()))).unwrap()
    }

    #[test]
    fn an_abandoned_rotation_leaves_a_leftover_and_current_is_settled_by_its_record() {
        // current pushed b (snapshot [a]); an abandoned successor snapshotted [a, b], recorded
        // b as current's, and pushed c.
        let current = doc(json!({"upstreamIdsBefore": ["a"], "createdAt": 1}));
        let abandoned = doc(json!({"upstreamIdsBefore": ["a", "b"], "createdAt": 2,
            "supersedes": {"versionId": "cur", "upstreamId": "b"}}));
        let got = attribute(
            Version {
                id: "cur",
                doc: &current,
            },
            &[("ab".into(), abandoned)],
            &live(&["b", "c"]),
        );
        assert_eq!(got.current, Lineage::Live("b".into()));
        assert_eq!(got.leftovers, ["c"]);
    }

    #[test]
    fn two_abandoned_rotations_each_account_for_their_own_secret() {
        let current = doc(json!({"upstreamIdsBefore": [], "createdAt": 1}));
        let first = doc(json!({"upstreamIdsBefore": ["a"], "createdAt": 2,
            "supersedes": {"versionId": "cur", "upstreamId": "a"}}));
        let second = doc(json!({"upstreamIdsBefore": ["a", "x"], "createdAt": 3,
            "supersedes": {"versionId": "cur", "upstreamId": "a"}}));
        let got = attribute(
            Version {
                id: "cur",
                doc: &current,
            },
            &[("2".into(), second), ("1".into(), first)],
            &live(&["a", "x", "y"]),
        );
        assert_eq!(got.current, Lineage::Live("a".into()));
        assert_eq!(got.leftovers, ["x", "y"]);
    }

    #[test]
    fn a_secret_added_by_someone_else_is_never_a_leftover() {
        let current = doc(json!({"upstreamIdsBefore": ["a"], "createdAt": 1}));
        let abandoned = doc(json!({"upstreamIdsBefore": ["a", "b"], "createdAt": 2,
            "supersedes": {"versionId": "cur", "upstreamId": "b"}}));
        // c was pushed by the abandoned version and d added by hand later: which is whose is
        // unknown, so neither is removed.
        let got = attribute(
            Version {
                id: "cur",
                doc: &current,
            },
            &[("ab".into(), abandoned)],
            &live(&["b", "c", "d"]),
        );
        assert_eq!(got.current, Lineage::Live("b".into()));
        assert!(got.leftovers.is_empty());
    }
}
