//! Policy selectors: the jq-like paths (`.`, `.a`, `.a[0]`, `["key"]`, `[-1]`, `[1:3]`, `[]`, `?`)
//! that pick a value out of an invocation's `args`.
//!
//! Invariant: selection never panics and never loops: it walks the parsed segments once, left to
//! right, returning early on the first segment that cannot be resolved (`None`), or `Null` when that
//! segment is optional. A missing key in a map selects `Null`.

use ipld_core::ipld::Ipld;

/// One step of a selector.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    /// `.name` or `["name"]`.
    Field(String),
    /// `[i]`, negative from the end.
    Index(i64),
    /// `[a:b]`, either end optional, negative from the end.
    Slice(Option<i64>, Option<i64>),
    /// `[]`: every value of a list or map.
    Values,
}

/// A parsed selector.
#[derive(Clone, Debug, PartialEq)]
pub struct Selector(Vec<(Step, bool)>);

impl Selector {
    /// Parses a selector; the error says what is wrong.
    pub fn parse(s: &str) -> Result<Selector, String> {
        let bad = |why: &str| format!("selector {s:?} {why}");
        if !s.starts_with('.') {
            return Err(bad("must start with '.'"));
        }
        if s.contains("..") {
            return Err(bad("has '..'"));
        }
        let mut steps: Vec<(Step, bool)> = Vec::new();
        let mut rest = s;
        while let Some(c) = rest.chars().next() {
            match c {
                '.' => {
                    rest = &rest[1..];
                    let end = rest
                        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .unwrap_or(rest.len());
                    if end > 0 {
                        if rest.starts_with(|c: char| c.is_ascii_digit()) {
                            return Err(bad("has a field name starting with a digit"));
                        }
                        steps.push((Step::Field(rest[..end].to_owned()), false));
                        rest = &rest[end..];
                    }
                }
                '[' => {
                    let (step, after) =
                        bracket(&rest[1..]).ok_or_else(|| bad("has a bad [...]"))?;
                    steps.push((step, false));
                    rest = after;
                }
                '?' => {
                    match steps.last_mut() {
                        Some(last) => last.1 = true,
                        None => return Err(bad("has '?' with nothing before it")),
                    }
                    rest = &rest[1..];
                }
                _ => return Err(bad("has an unexpected character")),
            }
        }
        Ok(Selector(steps))
    }

    /// The value selected in `root`, or `None` if it cannot be resolved.
    pub fn select(&self, root: &Ipld) -> Option<Ipld> {
        select(&self.0, root)
    }
}

fn select(steps: &[(Step, bool)], value: &Ipld) -> Option<Ipld> {
    let Some(((step, optional), rest)) = steps.split_first() else {
        return Some(value.clone());
    };
    let next = match (step, value) {
        (Step::Values, Ipld::List(l)) => return all(rest, l.iter(), *optional),
        (Step::Values, Ipld::Map(m)) => return all(rest, m.values(), *optional),
        (Step::Field(k), Ipld::Map(m)) => Some(m.get(k).cloned().unwrap_or(Ipld::Null)),
        (Step::Index(i), Ipld::List(l)) => index(*i, l.len()).map(|i| l[i].clone()),
        (Step::Index(i), Ipld::Bytes(b)) => index(*i, b.len()).map(|i| Ipld::Integer(b[i].into())),
        (Step::Slice(a, b), Ipld::List(l)) => {
            let (a, b) = slice(*a, *b, l.len());
            Some(Ipld::List(l[a..b].to_vec()))
        }
        (Step::Slice(a, b), Ipld::Bytes(x)) => {
            let (a, b) = slice(*a, *b, x.len());
            Some(Ipld::Bytes(x[a..b].to_vec()))
        }
        _ => None,
    };
    match next {
        Some(v) => select(rest, &v),
        None if *optional => Some(Ipld::Null),
        None => None,
    }
}

/// `[]`: the rest of the path applied to every child, as a list.
fn all<'a>(
    rest: &[(Step, bool)],
    children: impl Iterator<Item = &'a Ipld>,
    optional: bool,
) -> Option<Ipld> {
    let picked: Option<Vec<Ipld>> = children.map(|c| select(rest, c)).collect();
    match picked {
        Some(list) => Some(Ipld::List(list)),
        None if optional => Some(Ipld::Null),
        None => None,
    }
}

fn index(i: i64, len: usize) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let i = if i < 0 { len + i } else { i };
    (0..len).contains(&i).then_some(i as usize)
}

fn slice(a: Option<i64>, b: Option<i64>, len: usize) -> (usize, usize) {
    let n = i64::try_from(len).unwrap_or(i64::MAX);
    let clamp = |i: i64| (if i < 0 { n + i } else { i }).clamp(0, n) as usize;
    let a = a.map_or(0, clamp);
    let b = b.map_or(len, clamp);
    (a, b.max(a))
}

/// Parses the inside of `[...]` (after the `[`); returns the step and what follows the `]`.
fn bracket(s: &str) -> Option<(Step, &str)> {
    if let Some(quoted) = s.strip_prefix('"') {
        let mut key = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    return quoted[i + 1..]
                        .strip_prefix(']')
                        .map(|r| (Step::Field(key), r))
                }
                '\\' => key.push(chars.next()?.1),
                c => key.push(c),
            }
        }
        return None;
    }
    let (inside, after) = s.split_once(']')?;
    let int = |t: &str| -> Option<Option<i64>> {
        let t = t.trim();
        if t.is_empty() {
            Some(None)
        } else {
            t.parse().ok().map(Some)
        }
    };
    let step = match inside.split_once(':') {
        _ if inside.trim().is_empty() => Step::Values,
        Some((a, b)) => Step::Slice(int(a)?, int(b)?),
        None => Step::Index(int(inside)??),
    };
    Some((step, after))
}

#[cfg(test)]
mod tests {
    use super::Selector;
    use ipld_core::ipld;

    #[test]
    fn selects_as_the_spec_table_says() {
        let args = ipld!({
            "from": "alice@example.com",
            "to": ["bob@example.com", "carol@not.example.com", "dan@example.com"],
            "title": "Meeting Confirmation",
            "b": ipld_core::ipld::Ipld::Bytes(vec![0xd6, 0xa9, 0xc1, 0x8c]),
        });
        let sel = |s: &str| Selector::parse(s).unwrap().select(&args);
        assert_eq!(sel("."), Some(args.clone()));
        assert_eq!(sel(".title"), Some(ipld!("Meeting Confirmation")));
        assert_eq!(sel(".to[1]"), Some(ipld!("carol@not.example.com")));
        assert_eq!(sel(".to[-1]"), Some(ipld!("dan@example.com")));
        assert_eq!(sel(".to[99]?"), Some(ipld!(null)));
        assert_eq!(sel(".to[99]"), None);
        assert_eq!(
            sel(".to[1:]"),
            Some(ipld!(["carol@not.example.com", "dan@example.com"]))
        );
        assert_eq!(sel(".[\"from\"]"), Some(ipld!("alice@example.com")));
        assert_eq!(sel(".b[3]"), Some(ipld!(0x8c)));
        assert_eq!(sel(".nope"), Some(ipld!(null)));
        assert_eq!(sel(".nope.deeper"), None);
        assert_eq!(sel(".nope.deeper?"), Some(ipld!(null)));
        assert_eq!(sel(".title.x?.y"), Some(ipld!(null)));
        for bad in ["", "a", "..a", ".a..b", ".a[", ".a[x]", "?"] {
            assert!(Selector::parse(bad).is_err(), "{bad}");
        }
    }
}
