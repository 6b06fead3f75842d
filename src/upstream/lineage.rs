//! Which live upstream secret belongs to which secret version.
//!
//! Where the IdP assigns the id after we chose the value (Cognito), a version cannot record its
//! own id: versions are immutable once stored. Instead each version records the ids that were
//! live *before* its value was pushed (`rotationState.upstreamIdsBefore`). A version's secret is
//! then the live id that is new relative to that version and, if a later version exists, already
//! present before the later one was pushed. When several ids qualify (someone added a secret at
//! the IdP after the rotation), [`resolve`] says ambiguous, and the rotation removes nothing on
//! that guess. The audit reports with [`attribute`], which takes the one created first as the
//! version's: a secret added by hand after a rotation is then reported as the orphan it is.

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
    let bounds: Vec<&[String]> = later
        .and_then(|l| l.state.as_ref())
        .map(|s| s.upstream_ids_before.as_slice())
        .into_iter()
        .collect();
    candidates_of(live, before, &bounds)
}

/// A version of the secret, by id, with its document.
#[derive(Clone, Copy, Debug)]
pub struct Version<'a> {
    pub id: &'a str,
    pub doc: &'a SecretDocument,
}

/// The upstream secret of `version`, given the versions created to replace it (`successors`:
/// the pending one, a rolled-back or an abandoned one). A successor that recorded the id it
/// superseded (`rotationState.supersedes`) settles it; otherwise every successor's snapshot
/// bounds the candidates, since each was taken after this version's secret was pushed.
pub fn resolve_version(
    version: Version<'_>,
    successors: &[Version<'_>],
    live: &[UpstreamSecret],
) -> Lineage {
    let is_live = |id: &str| live.iter().any(|s| s.id == id);
    if let Some(id) = &version.doc.client_secret_id {
        return if is_live(id) {
            Lineage::Live(id.clone())
        } else {
            Lineage::Absent
        };
    }
    let recorded = successors.iter().find_map(|s| {
        let sup = s.doc.state.as_ref()?.supersedes.as_ref()?;
        (sup.version_id == version.id).then_some(sup.upstream_id.as_ref()?)
    });
    if let Some(id) = recorded {
        return if is_live(id) {
            Lineage::Live(id.clone())
        } else {
            Lineage::Absent
        };
    }
    let before = version
        .doc
        .state
        .as_ref()
        .map(|s| s.upstream_ids_before.as_slice());
    let bounds: Vec<&[String]> = successors
        .iter()
        .filter_map(|s| {
            s.doc
                .state
                .as_ref()
                .map(|st| st.upstream_ids_before.as_slice())
        })
        .collect();
    candidates_of(live, before, &bounds)
}

fn candidates_of(
    live: &[UpstreamSecret],
    before: Option<&[String]>,
    bounds: &[&[String]],
) -> Lineage {
    let candidates: Vec<String> = live
        .iter()
        .map(|s| &s.id)
        .filter(|id| before.is_none_or(|b| !b.contains(id)))
        .filter(|id| bounds.iter().all(|b| b.contains(id)))
        .cloned()
        .collect();
    match candidates.len() {
        0 => Lineage::Absent,
        1 => Lineage::Live(candidates.into_iter().next().unwrap_or_default()),
        _ => Lineage::Ambiguous(candidates),
    }
}

/// [`resolve`], except that among several candidates of a version the rotator pushed (it has a
/// snapshot) the one created strictly first is the version's. For reporting only: setSecret
/// pushes once, so a later one is someone else's; but a secret added while setSecret ran could
/// be the earlier one, so nothing may be removed on this answer.
pub fn attribute(
    doc: &SecretDocument,
    later: Option<&SecretDocument>,
    live: &[UpstreamSecret],
) -> Lineage {
    match resolve(doc, later, live) {
        Lineage::Ambiguous(ids) if doc.state.is_some() => {
            let candidates: Vec<&UpstreamSecret> =
                live.iter().filter(|s| ids.contains(&s.id)).collect();
            first_created(&candidates)
                .map_or(Lineage::Ambiguous(ids), |s| Lineage::Live(s.id.clone()))
        }
        other => other,
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
                label: None,
            })
            .collect()
    }

    #[test]
    fn the_audit_attributes_the_first_created_secret_and_the_rotation_does_not_guess() {
        let current = doc(None, Some(&["a"]));
        let live_now = dated(&[("a", 1), ("b", 5), ("c", 9)]);
        // b was pushed by the rotation; c was added at the IdP later.
        assert_eq!(
            attribute(&current, None, &live_now),
            Lineage::Live("b".into())
        );
        assert_eq!(
            resolve(&current, None, &live_now),
            Lineage::Ambiguous(vec!["b".into(), "c".into()])
        );
        // Same second, or a date missing: no answer.
        assert_eq!(
            attribute(&current, None, &dated(&[("b", 5), ("c", 5)])),
            Lineage::Ambiguous(vec!["b".into(), "c".into()])
        );
        assert_eq!(
            attribute(&current, None, &live(&["b", "c"])),
            Lineage::Ambiguous(vec!["b".into(), "c".into()])
        );
        // A document the rotator never pushed has no first secret.
        assert_eq!(
            attribute(&doc(None, None), None, &dated(&[("b", 5), ("c", 9)])),
            Lineage::Ambiguous(vec!["b".into(), "c".into()])
        );
    }

    fn live(ids: &[&str]) -> Vec<UpstreamSecret> {
        ids.iter()
            .map(|id| UpstreamSecret {
                id: id.to_string(),
                created: None,
                label: None,
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

    fn successor(supersedes: &str, upstream: Option<&str>, before: &[&str]) -> SecretDocument {
        let v = json!({
            "clientId": "c", "clientSecret": "v",
            "rotation": {"idp": "cognito", "userPoolId": "us-east-1_X"},
            "rotationState": {"upstreamIdsBefore": before, "createdAt": 2,
                "supersedes": {"versionId": supersedes, "upstreamId": upstream}}
        });
        SecretDocument::parse(Some(&SecretString::new(v.to_string()))).unwrap()
    }

    #[test]
    fn a_successor_that_recorded_what_it_superseded_settles_the_current_secret() {
        // After a rollback the current version matches two live secrets by snapshot alone.
        let current = doc(None, Some(&["a"]));
        let rolled_back = successor("v-cur", Some("b"), &["a", "b"]);
        let live_now = live(&["b", "c"]);
        let cur = Version {
            id: "v-cur",
            doc: &current,
        };
        assert_eq!(
            resolve(&current, None, &live_now),
            Lineage::Ambiguous(vec!["b".into(), "c".into()])
        );
        assert_eq!(
            resolve_version(
                cur,
                &[Version {
                    id: "v-rb",
                    doc: &rolled_back
                }],
                &live_now
            ),
            Lineage::Live("b".into())
        );
        // A record about another version says nothing about this one; the snapshot still bounds.
        let other = successor("v-other", Some("z"), &["a", "b"]);
        assert_eq!(
            resolve_version(
                cur,
                &[Version {
                    id: "v-o",
                    doc: &other
                }],
                &live_now
            ),
            Lineage::Live("b".into())
        );
        // A recorded id that is gone is absent, not guessed.
        let gone = successor("v-cur", Some("q"), &["a", "q"]);
        assert_eq!(
            resolve_version(
                cur,
                &[Version {
                    id: "v-g",
                    doc: &gone
                }],
                &live_now
            ),
            Lineage::Absent
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
