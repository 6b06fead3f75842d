//! New client-secret values from the operating system's CSPRNG.

use crate::sensitive::SecretString;

/// Cognito accepts `[\w+]`; `+` breaks HTTP Basic at IdPs that do not form-decode, so we keep to
/// word characters.
pub const WORD_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_";

#[derive(Debug, thiserror::Error)]
#[error("operating system random number generator failed: {0}")]
pub struct RandomError(String);

/// A uniformly random string over `alphabet` (rejection sampling, so no modulo bias).
pub fn random_secret(alphabet: &[u8], length: usize) -> Result<SecretString, RandomError> {
    assert!(!alphabet.is_empty() && alphabet.len() <= 256);
    let limit = 256 - (256 % alphabet.len());
    let mut out = String::with_capacity(length);
    let mut buf = [0u8; 128];
    while out.len() < length {
        getrandom::fill(&mut buf).map_err(|e| RandomError(e.to_string()))?;
        for &b in &buf {
            if (b as usize) < limit && out.len() < length {
                out.push(alphabet[b as usize % alphabet.len()] as char);
            }
        }
    }
    Ok(SecretString::new(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn values_have_the_requested_length_and_alphabet() {
        let v = random_secret(WORD_ALPHABET, 64).unwrap();
        assert_eq!(v.expose().len(), 64);
        assert!(v.expose().bytes().all(|b| WORD_ALPHABET.contains(&b)));
    }

    #[test]
    fn values_do_not_repeat_and_cover_the_alphabet() {
        let values: Vec<_> = (0..200)
            .map(|_| random_secret(WORD_ALPHABET, 64).unwrap())
            .collect();
        let distinct: HashSet<_> = values.iter().map(|v| v.expose().to_string()).collect();
        assert_eq!(distinct.len(), values.len());
        let seen: HashSet<u8> = values.iter().flat_map(|v| v.expose().bytes()).collect();
        assert_eq!(seen.len(), WORD_ALPHABET.len());
    }
}
