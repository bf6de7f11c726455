//! Just enough raw CBOR to frame values without decoding them: write a head, read a head, and
//! measure one encoded item (so tree nodes can carry their values as opaque dag-cbor bytes).
//!
//! Invariant: [`item_len`] never reads past the buffer and rejects indefinite lengths (not
//! allowed in dag-cbor); it walks nested items iteratively, so depth cannot overflow the stack.

/// Appends a CBOR head: major type and argument, in the shortest form (as dag-cbor requires).
pub fn write_head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend_from_slice(&[m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 26);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

/// Reads the head at `pos`: (major type, argument, position after the head).
#[inline]
pub fn read_head(buf: &[u8], pos: usize) -> Result<(u8, u64, usize), &'static str> {
    let b = *buf.get(pos).ok_or("truncated cbor")?;
    let (major, info) = (b >> 5, b & 0x1f);
    if info < 24 {
        return Ok((major, u64::from(info), pos + 1)); // the common one-byte head
    }
    let (n, len) = match info {
        0..=23 => (u64::from(info), 0),
        24 => (u64::from(*buf.get(pos + 1).ok_or("truncated cbor")?), 1),
        25 => (u64::from(u16::from_be_bytes(arr(buf, pos + 1)?)), 2),
        26 => (u64::from(u32::from_be_bytes(arr(buf, pos + 1)?)), 4),
        27 => (u64::from_be_bytes(arr(buf, pos + 1)?), 8),
        _ => return Err("indefinite or reserved cbor length"),
    };
    Ok((major, n, pos + 1 + len))
}

fn arr<const N: usize>(buf: &[u8], at: usize) -> Result<[u8; N], &'static str> {
    buf.get(at..at + N)
        .and_then(|s| s.try_into().ok())
        .ok_or("truncated cbor")
}

/// Length in bytes of the one complete CBOR item starting at `pos`.
pub fn item_len(buf: &[u8], pos: usize) -> Result<usize, &'static str> {
    // Fast path: small scalars and short strings, most document fields.
    if let Some(&b) = buf.get(pos) {
        let (major, info) = (b >> 5, usize::from(b & 0x1f));
        match major {
            0 | 1 | 7 if info < 24 => return Ok(1),
            2 | 3 if info < 24 && pos + 1 + info <= buf.len() => return Ok(1 + info),
            _ => {}
        }
    }
    let mut at = pos;
    let mut pending: u64 = 1;
    while pending > 0 {
        pending -= 1;
        let (major, n, next) = read_head(buf, at)?;
        at = match major {
            2 | 3 => {
                let n = usize::try_from(n).map_err(|_| "cbor length too large")?;
                next.checked_add(n).ok_or("cbor length too large")?
            }
            4 => {
                pending = pending.checked_add(n).ok_or("cbor too many items")?;
                next
            }
            5 => {
                let n2 = n.checked_mul(2).ok_or("cbor too many items")?;
                pending = pending.checked_add(n2).ok_or("cbor too many items")?;
                next
            }
            6 => {
                pending += 1;
                next
            }
            _ => next, // integers, simple values, floats: the argument was the payload
        };
        if at > buf.len() {
            return Err("truncated cbor");
        }
        if pending > buf.len() as u64 {
            return Err("cbor declares more items than bytes");
        }
    }
    Ok(at - pos)
}

/// An IEEE-754 half-precision value (never written by dag-cbor encoders, but valid CBOR).
pub fn half(h: u16) -> f32 {
    let (sign, exp, frac) = (
        (h >> 15) as u32,
        ((h >> 10) & 0x1f) as i32,
        (h & 0x3ff) as f32,
    );
    let mag = match exp {
        0 => frac * 2f32.powi(-24),
        31 if frac == 0.0 => f32::INFINITY,
        31 => f32::NAN,
        e => (1.0 + frac / 1024.0) * 2f32.powi(e - 15),
    };
    if sign == 1 {
        -mag
    } else {
        mag
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use ipld_core::ipld::Ipld;

    #[test]
    fn item_len_matches_encodings() {
        let link = crate::codec::encode(&Ipld::Null).unwrap().cid;
        let values = vec![
            Ipld::Null,
            Ipld::Integer(-1_000_000),
            Ipld::Float(1.5),
            Ipld::String("héllo".into()),
            Ipld::Bytes(vec![1; 300]),
            Ipld::List(vec![
                Ipld::Bool(true),
                Ipld::List(vec![]),
                Ipld::Integer(70_000),
            ]),
            Ipld::Map([("a".to_string(), Ipld::Link(link))].into_iter().collect()),
        ];
        for v in values {
            let mut bytes = serde_ipld_dagcbor::to_vec(&v).unwrap();
            let n = bytes.len();
            bytes.extend_from_slice(&[0xff, 0x00]);
            assert_eq!(item_len(&bytes, 0), Ok(n), "{v:?}");
            assert!(item_len(&bytes[..n - 1], 0).is_err(), "truncated {v:?}");
        }
        for n in [0u64, 23, 24, 255, 256, 65_535, 65_536, 1 << 40] {
            let mut out = Vec::new();
            write_head(&mut out, 0, n);
            assert_eq!(serde_ipld_dagcbor::from_slice::<u64>(&out).unwrap(), n);
            assert_eq!(read_head(&out, 0).unwrap(), (0, n, out.len()));
        }
        assert!(item_len(&[0x9f], 0).is_err());
        assert!(item_len(&[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 0).is_err());
    }
}
