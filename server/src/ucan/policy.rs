//! The delegation policy language: a list of statements (`==`, `!=`, `<`, `<=`, `>`, `>=`, `like`,
//! `not`, `and`, `or`, `all`, `any`) that an invocation's `args` must all satisfy.
//!
//! Invariant: a `Policy` is parsed once, when its delegation is decoded (a malformed one is a decode
//! error), keeps its exact IPLD form for re-encoding, and evaluates without panicking: a selector
//! that cannot be resolved, or a comparison of the wrong types, makes its statement false.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use ipld_core::ipld::Ipld;

use super::error::DecodeError;
use super::selector::Selector;

/// A delegation's `pol`; the default (`[]`) allows any arguments.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Policy {
    ipld: Vec<Ipld>,
    statements: Vec<Statement>,
}

#[derive(Clone, Debug, PartialEq)]
enum Statement {
    Eq(Selector, Ipld),
    Ne(Selector, Ipld),
    /// The selected number compared to the literal must give one of these orderings.
    Cmp(Selector, Number, &'static [Ordering]),
    Like(Selector, Vec<String>),
    Not(Box<Statement>),
    And(Vec<Statement>),
    Or(Vec<Statement>),
    All(Selector, Box<Statement>),
    Any(Selector, Box<Statement>),
}

/// A number literal of an inequality.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Number {
    Int(i128),
    Float(f64),
}

impl Policy {
    /// Parses a `pol` value.
    pub fn from_ipld(value: Ipld) -> Result<Policy, DecodeError> {
        let Ipld::List(ipld) = value else {
            return Err(DecodeError::Policy("not a list of statements".into()));
        };
        let statements = ipld.iter().map(statement).collect::<Result<_, _>>();
        let statements = statements.map_err(DecodeError::Policy)?;
        Ok(Policy { ipld, statements })
    }

    pub fn to_ipld(&self) -> Ipld {
        Ipld::List(self.ipld.clone())
    }

    /// Whether this is `[]`.
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// Whether `args` satisfies every statement.
    pub fn matches(&self, args: &BTreeMap<String, Ipld>) -> bool {
        let root = Ipld::Map(args.clone());
        self.statements.iter().all(|s| eval(s, &root))
    }
}

fn statement(v: &Ipld) -> Result<Statement, String> {
    let Ipld::List(parts) = v else {
        return Err("a statement is not a list".into());
    };
    let Some(Ipld::String(op)) = parts.first() else {
        return Err("statement does not start with an operator".into());
    };
    let sel = |i: usize| match parts.get(i) {
        Some(Ipld::String(s)) => Selector::parse(s),
        _ => Err(format!("`{op}` needs a selector")),
    };
    let arity = |n: usize| match parts.len() == n {
        true => Ok(()),
        false => Err(format!("`{op}` takes {} arguments", n - 1)),
    };
    let inner = |i: usize| {
        parts
            .get(i)
            .map_or(Err(format!("`{op}` needs a statement")), statement)
    };
    use Ordering::{Equal, Greater, Less};
    let s = match op.as_str() {
        "==" | "!=" => {
            arity(3)?;
            let (s, v) = (sel(1)?, parts[2].clone());
            if op == "==" {
                Statement::Eq(s, v)
            } else {
                Statement::Ne(s, v)
            }
        }
        "<" | "<=" | ">" | ">=" => {
            arity(3)?;
            let n = match parts[2] {
                Ipld::Integer(i) => Number::Int(i),
                Ipld::Float(f) => Number::Float(f),
                _ => return Err(format!("`{op}` compares with a number")),
            };
            let want: &'static [Ordering] = match op.as_str() {
                "<" => &[Less],
                "<=" => &[Less, Equal],
                ">" => &[Greater],
                _ => &[Greater, Equal],
            };
            Statement::Cmp(sel(1)?, n, want)
        }
        "like" => {
            arity(3)?;
            let Ipld::String(pattern) = &parts[2] else {
                return Err("`like` takes a string pattern".into());
            };
            Statement::Like(sel(1)?, glob(pattern))
        }
        "not" => {
            arity(2)?;
            Statement::Not(Box::new(inner(1)?))
        }
        "and" | "or" => {
            arity(2)?;
            let Ipld::List(items) = &parts[1] else {
                return Err(format!("`{op}` takes a list of statements"));
            };
            let items = items.iter().map(statement).collect::<Result<_, _>>()?;
            if op == "and" {
                Statement::And(items)
            } else {
                Statement::Or(items)
            }
        }
        "all" | "any" => {
            arity(3)?;
            let (s, body) = (sel(1)?, Box::new(inner(2)?));
            if op == "all" {
                Statement::All(s, body)
            } else {
                Statement::Any(s, body)
            }
        }
        other => return Err(format!("unknown operator {other:?}")),
    };
    Ok(s)
}

/// Splits a `like` pattern at its unescaped `*`s into the literal pieces between them (`\*` is a
/// literal star), so `"a*b"` → `["a", "b"]` and `"*"` → `["", ""]`.
fn glob(pattern: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut piece = String::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'*') => {
                chars.next();
                piece.push('*');
            }
            '*' => pieces.push(std::mem::take(&mut piece)),
            c => piece.push(c),
        }
    }
    pieces.push(piece);
    pieces
}

fn like(pieces: &[String], s: &str) -> bool {
    let (Some(first), Some(last)) = (pieces.first(), pieces.last()) else {
        return false;
    };
    if pieces.len() == 1 {
        return s == first;
    }
    let Some(mut rest) = s.strip_prefix(first.as_str()) else {
        return false;
    };
    for middle in &pieces[1..pieces.len() - 1] {
        match rest.find(middle.as_str()) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last.as_str())
}

fn eval(s: &Statement, root: &Ipld) -> bool {
    match s {
        Statement::Eq(sel, v) => sel.select(root).is_some_and(|x| equal(&x, v)),
        Statement::Ne(sel, v) => sel.select(root).is_some_and(|x| !equal(&x, v)),
        Statement::Cmp(sel, n, want) => sel
            .select(root)
            .and_then(|x| compare(&x, *n))
            .is_some_and(|o| want.contains(&o)),
        Statement::Like(sel, pieces) => match sel.select(root) {
            Some(Ipld::String(x)) => like(pieces, &x),
            _ => false,
        },
        Statement::Not(inner) => !eval(inner, root),
        Statement::And(items) => items.iter().all(|i| eval(i, root)),
        Statement::Or(items) => items.is_empty() || items.iter().any(|i| eval(i, root)),
        Statement::All(sel, body) => {
            children(sel.select(root)).is_some_and(|c| c.iter().all(|x| eval(body, x)))
        }
        Statement::Any(sel, body) => {
            children(sel.select(root)).is_some_and(|c| c.iter().any(|x| eval(body, x)))
        }
    }
}

/// The values of a list or a map (keys dropped); `None` for anything else.
fn children(v: Option<Ipld>) -> Option<Vec<Ipld>> {
    match v? {
        Ipld::List(l) => Some(l),
        Ipld::Map(m) => Some(m.into_values().collect()),
        _ => None,
    }
}

/// Deep equality where an integer equals the float of the same value (`1 == 1.0`).
fn equal(a: &Ipld, b: &Ipld) -> bool {
    match (a, b) {
        (Ipld::Integer(_) | Ipld::Float(_), Ipld::Integer(_) | Ipld::Float(_)) => {
            number(a).zip(number(b)).and_then(|(x, y)| order(x, y)) == Some(Ordering::Equal)
        }
        (Ipld::List(x), Ipld::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| equal(x, y))
        }
        (Ipld::Map(x), Ipld::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((k, x), (l, y))| k == l && equal(x, y))
        }
        _ => a == b,
    }
}

fn number(v: &Ipld) -> Option<Number> {
    match v {
        Ipld::Integer(i) => Some(Number::Int(*i)),
        Ipld::Float(f) => Some(Number::Float(*f)),
        _ => None,
    }
}

fn compare(v: &Ipld, n: Number) -> Option<Ordering> {
    order(number(v)?, n)
}

fn order(a: Number, b: Number) -> Option<Ordering> {
    match (a, b) {
        (Number::Int(x), Number::Int(y)) => Some(x.cmp(&y)),
        (Number::Int(x), Number::Float(y)) => (x as f64).partial_cmp(&y),
        (Number::Float(x), Number::Int(y)) => x.partial_cmp(&(y as f64)),
        (Number::Float(x), Number::Float(y)) => x.partial_cmp(&y),
    }
}
