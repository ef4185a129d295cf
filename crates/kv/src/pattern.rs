//! Redis's glob-style patterns (`KEYS`, `SCAN … MATCH`): `*`, `?`,
//! `[abc]`, `[^abc]`, `[a-z]` and `\` escapes, over bytes.
//!
//! Written by hand rather than taken from a glob crate: those match file
//! paths (separators, UTF-8, case folding options), and a `KEYS` must
//! match exactly what Redis's `stringmatchlen` matches, byte for byte.

/// Whether `text` matches `pattern`, as Redis's `stringmatchlen` decides.
pub fn matches(pattern: &[u8], text: &[u8]) -> bool {
    // Backtracking over the last `*` only: each `*` restarts the match one
    // byte further, so the work is at most pattern × text.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
                continue;
            }
            Some(_) => {
                if let Some(length) = single(&pattern[p..], text[t]) {
                    p += length;
                    t += 1;
                    continue;
                }
            }
            None => {}
        }
        match star {
            Some((star_p, star_t)) => {
                p = star_p + 1;
                t = star_t + 1;
                star = Some((star_p, star_t + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|byte| *byte == b'*')
}

/// Matches one byte against the pattern element at the front of
/// `pattern` (not `*`); returns the element's length when it matches.
fn single(pattern: &[u8], byte: u8) -> Option<usize> {
    match pattern[0] {
        b'?' => Some(1),
        b'\\' if pattern.len() >= 2 => (pattern[1] == byte).then_some(2),
        b'[' => class(pattern, byte),
        literal => (literal == byte).then_some(1),
    }
}

/// A `[...]` class at the front of `pattern`. As in Redis, an unclosed
/// class extends to the end of the pattern.
fn class(pattern: &[u8], byte: u8) -> Option<usize> {
    let mut index = 1;
    let negated = pattern.get(index) == Some(&b'^');
    if negated {
        index += 1;
    }
    let mut found = false;
    while index < pattern.len() && pattern[index] != b']' {
        if pattern[index] == b'\\' && index + 1 < pattern.len() {
            found |= pattern[index + 1] == byte;
            index += 2;
        } else if index + 2 < pattern.len() && pattern[index + 1] == b'-' {
            let (low, high) = (pattern[index], pattern[index + 2]);
            let (low, high) = if low <= high {
                (low, high)
            } else {
                (high, low)
            };
            found |= (low..=high).contains(&byte);
            index += 3;
        } else {
            found |= pattern[index] == byte;
            index += 1;
        }
    }
    let length = (index + 1).min(pattern.len());
    (found != negated).then_some(length)
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn patterns_match_as_redis_matches_them() {
        for (pattern, text, expected) in [
            ("*", "", true),
            ("*", "anything", true),
            ("h?llo", "hello", true),
            ("h?llo", "hllo", false),
            ("h*llo", "heeeello", true),
            ("h[ae]llo", "hallo", true),
            ("h[ae]llo", "hillo", false),
            ("h[^e]llo", "hallo", true),
            ("h[^e]llo", "hello", false),
            ("h[a-b]llo", "hbllo", true),
            ("h[b-a]llo", "hallo", true),
            ("h\\*llo", "h*llo", true),
            ("h\\*llo", "hallo", false),
            ("user:*:name", "user:42:name", true),
            ("user:*:name", "user:42:age", false),
            ("a*b*c", "abbbc", true),
            ("a*b*c", "acb", false),
            ("k[", "k", false),
        ] {
            assert_eq!(
                matches(pattern.as_bytes(), text.as_bytes()),
                expected,
                "{pattern:?} on {text:?}"
            );
        }
    }
}
