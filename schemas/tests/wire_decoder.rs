//! The server decodes request bodies from anyone on the network. Whatever
//! the bytes — noise, compressed noise, CBOR of the wrong shape, a valid
//! request with bits flipped or cut short — `SyncRequest::decode` returns
//! `Ok` or `Err` and never panics; what it accepts is a version-1 request
//! that survives encoding again unchanged.

use ciborium::Value;
use proptest::prelude::*;
use proptest::sample::Index;
use sprechtag_schemas::wire::{
    self, BATCH_BYTES, MIN_BATCH_BYTES, PROTOCOL_VERSION, SyncRequest, Upload, WireError,
};

fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::encode_all(bytes, 3).expect("compressing into memory works")
}

fn cbor(value: &impl serde::Serialize) -> Vec<u8> {
    let mut bytes = Vec::new();
    ciborium::into_writer(value, &mut bytes).expect("CBOR into memory works");
    bytes
}

/// Decodes, and checks what the decoder promises about an accepted body.
fn decode_checked(body: &[u8]) -> Result<SyncRequest, WireError> {
    let outcome = SyncRequest::decode(body);
    if let Ok(request) = &outcome {
        assert_eq!(request.protocol, PROTOCOL_VERSION);
        let again = SyncRequest::decode(&wire::encode(request)).expect("re-encoded request");
        assert_eq!(&again, request, "an accepted request survives encoding");
        let budget = request.response_budget();
        assert!(
            (MIN_BATCH_BYTES..=BATCH_BYTES).contains(&budget),
            "{budget}"
        );
    }
    outcome
}

fn upload() -> impl Strategy<Value = Upload> {
    (
        "\\PC{0,40}",
        prop::collection::vec(any::<u8>(), 0..600),
        prop::collection::vec(any::<u8>(), 0..100),
    )
        .prop_map(|(doc_id, changes, heads)| Upload {
            attestations: Vec::new(),
            doc_id,
            changes,
            heads,
        })
}

fn request() -> impl Strategy<Value = SyncRequest> {
    (
        any::<u64>(),
        prop::collection::vec(upload(), 0..6),
        any::<u32>(),
        any::<bool>(),
    )
        .prop_map(
            |(cursor, uploads, max_response_bytes, summaries)| SyncRequest {
                trust: None,
                protocol: PROTOCOL_VERSION,
                cursor,
                uploads,
                max_response_bytes,
                summaries,
                opened: Vec::new(),
                erase: Vec::new(),
                resync: false,
            },
        )
}

/// Keys the decoder looks for, so random maps often get past the first field.
const FIELDS: &[&str] = &[
    "protocol",
    "cursor",
    "uploads",
    "max_response_bytes",
    "summaries",
    "doc_id",
    "changes",
    "heads",
];

fn key() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => prop::sample::select(FIELDS).prop_map(|k| Value::Text(k.to_string())),
        1 => "\\PC{0,8}".prop_map(Value::Text),
        1 => any::<i64>().prop_map(|i| Value::Integer(i.into())),
    ]
}

/// Any CBOR value, shaped a little like a request.
fn cbor_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<u64>().prop_map(|i| Value::Integer(i.into())),
        any::<i64>().prop_map(|i| Value::Integer(i.into())),
        Just(Value::Integer(1.into())),
        Just(Value::Integer(u64::from(u32::MAX).into())),
        any::<f64>().prop_map(Value::Float),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(Value::Bytes),
        prop::collection::vec(any::<u8>(), 32..=32).prop_map(Value::Bytes),
        "\\PC{0,16}".prop_map(Value::Text),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((key(), inner.clone()), 0..8).prop_map(Value::Map),
            (any::<u64>(), inner).prop_map(|(tag, value)| Value::Tag(tag, Box::new(value))),
        ]
    })
}

/// A map at the top, as a request is, with request-like keys.
fn request_like() -> impl Strategy<Value = Value> {
    prop::collection::vec((key(), cbor_value()), 0..6).prop_map(Value::Map)
}

#[derive(Debug, Clone)]
enum Damage {
    Flip(Vec<(Index, u8)>),
    Truncate(Index),
    Both(Vec<(Index, u8)>, Index),
}

fn damage() -> impl Strategy<Value = Damage> {
    let flips = prop::collection::vec((any::<Index>(), 1u8..=255), 1..8);
    prop_oneof![
        flips.clone().prop_map(Damage::Flip),
        any::<Index>().prop_map(Damage::Truncate),
        (flips, any::<Index>()).prop_map(|(f, t)| Damage::Both(f, t)),
    ]
}

fn apply(damage: &Damage, mut bytes: Vec<u8>) -> Vec<u8> {
    let flip = |bytes: &mut Vec<u8>, flips: &[(Index, u8)]| {
        if !bytes.is_empty() {
            for (at, mask) in flips {
                let i = at.index(bytes.len());
                bytes[i] ^= mask;
            }
        }
    };
    match damage {
        Damage::Flip(flips) => flip(&mut bytes, flips),
        Damage::Truncate(at) => {
            let len = at.index(bytes.len().max(1));
            bytes.truncate(len);
        }
        Damage::Both(flips, at) => {
            flip(&mut bytes, flips);
            let len = at.index(bytes.len().max(1));
            bytes.truncate(len);
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_valid_request_round_trips(request in request()) {
        let body = wire::encode(&request);
        prop_assert_eq!(SyncRequest::decode(&body).expect("a valid body decodes"), request);
    }

    #[test]
    fn arbitrary_bytes_are_refused_without_panicking(
        bytes in prop::collection::vec(any::<u8>(), 0..4096),
    ) {
        let outcome = decode_checked(&bytes);
        prop_assert!(outcome.is_err(), "noise is no request: {:?}", outcome);
    }

    #[test]
    fn compressed_arbitrary_bytes_decode_to_ok_or_err_without_panicking(
        bytes in prop::collection::vec(any::<u8>(), 0..4096),
    ) {
        let _ = decode_checked(&zstd(&bytes));
    }

    #[test]
    fn compressed_cbor_of_any_shape_decodes_to_ok_or_err_without_panicking(
        value in prop_oneof![cbor_value(), request_like()],
    ) {
        let outcome = decode_checked(&zstd(&cbor(&value)));
        if outcome.is_err() {
            prop_assert!(
                !matches!(outcome, Err(WireError::Compression(_) | WireError::TooLarge)),
                "valid zstd of valid CBOR fails only in decoding: {:?}", outcome
            );
        }
    }

    #[test]
    fn a_valid_request_with_damaged_compressed_bytes_never_panics(
        request in request(),
        damage in damage(),
    ) {
        let _ = decode_checked(&apply(&damage, wire::encode(&request)));
    }

    #[test]
    fn a_valid_request_with_damaged_cbor_never_panics(
        request in request(),
        damage in damage(),
    ) {
        // Damage under the compression, so the CBOR decoder sees it.
        let _ = decode_checked(&zstd(&apply(&damage, cbor(&request))));
    }

    #[test]
    fn a_request_with_another_protocol_version_is_refused_by_its_version(
        request in request(),
        protocol in any::<u32>().prop_filter("another version", |p| *p != PROTOCOL_VERSION),
    ) {
        let body = wire::encode(&SyncRequest { protocol, ..request });
        prop_assert!(
            matches!(SyncRequest::decode(&body), Err(WireError::Version(p)) if p == protocol)
        );
    }
}

#[test]
fn a_request_without_max_response_bytes_decodes_with_the_default_budget() {
    let value = Value::Map(vec![
        (
            Value::Text("protocol".into()),
            Value::Integer(PROTOCOL_VERSION.into()),
        ),
        (Value::Text("cursor".into()), Value::Integer(7.into())),
        (Value::Text("uploads".into()), Value::Array(vec![])),
    ]);
    let request = SyncRequest::decode(&zstd(&cbor(&value))).expect("decodes");
    assert_eq!(request.cursor, 7);
    assert_eq!(request.max_response_bytes, 0);
    assert_eq!(request.response_budget(), BATCH_BYTES);
}

#[test]
fn a_deeply_nested_body_is_refused_without_overflowing_the_stack() {
    // {"protocol": 1, "x": [[[[…]]]]}: the unknown field is skipped by
    // walking it, which must stop at a depth limit.
    let depth = 200_000;
    let mut body = vec![0xa2];
    body.extend(cbor(&"protocol"));
    body.push(0x01);
    body.extend(cbor(&"x"));
    body.extend(std::iter::repeat_n(0x81, depth));
    body.push(0x00);
    let outcome = SyncRequest::decode(&zstd(&body));
    assert!(matches!(outcome, Err(WireError::Decode(_))), "{outcome:?}");
}

#[test]
fn a_byte_string_claiming_an_enormous_length_is_refused_without_allocating_it() {
    // uploads: [{"doc_id": "d", "changes": <2^63 bytes follow>}]
    let mut body = vec![0xa3];
    body.extend(cbor(&"protocol"));
    body.push(0x01);
    body.extend(cbor(&"cursor"));
    body.push(0x00);
    body.extend(cbor(&"uploads"));
    body.push(0x81);
    body.push(0xa2);
    body.extend(cbor(&"doc_id"));
    body.extend(cbor(&"d"));
    body.extend(cbor(&"changes"));
    body.push(0x5b);
    body.extend((1u64 << 63).to_be_bytes());
    body.extend([0u8; 16]);
    let outcome = SyncRequest::decode(&zstd(&body));
    assert!(matches!(outcome, Err(WireError::Decode(_))), "{outcome:?}");
}

#[test]
fn an_array_claiming_billions_of_uploads_is_refused_without_allocating_them() {
    let mut body = vec![0xa3];
    body.extend(cbor(&"protocol"));
    body.push(0x01);
    body.extend(cbor(&"cursor"));
    body.push(0x00);
    body.extend(cbor(&"uploads"));
    body.push(0x9b);
    body.extend(u64::MAX.to_be_bytes());
    let outcome = SyncRequest::decode(&zstd(&body));
    assert!(matches!(outcome, Err(WireError::Decode(_))), "{outcome:?}");
}
