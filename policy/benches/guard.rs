//! Throughput of the SIP guard's hot path on a realistic mix: REGISTER without and with
//! credentials, Asterisk's 401 and 200 answers, OPTIONS keep-alives and INVITEs, from 10,000
//! phones. Reported as messages per second (criterion's "elem/s").
//!
//! `cargo bench -p policy --bench guard`

use std::hint::black_box;
use std::net::SocketAddr;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use policy::guard::{
    Direction, Engine, GuardPolicy, Observation, Timestamp, Transport, parse_message,
};

struct Sample {
    bytes: Vec<u8>,
    peer: SocketAddr,
    direction: Direction,
}

fn corpus() -> Vec<Sample> {
    let mut out = Vec::new();
    for phone in 0..10_000u32 {
        let ip = [10, (phone >> 16) as u8, (phone >> 8) as u8, phone as u8];
        let peer = SocketAddr::from((ip, 5060));
        let host = format!("10.{}.{}.{}", ip[1], ip[2], ip[3]);
        let ext = 1000 + phone;
        let call = format!("{phone:08x}-4f2a-11ef@{host}");
        let common = |method: &str, cseq: u32| {
            format!(
                "Via: SIP/2.0/UDP {host}:5060;branch=z9hG4bK{phone}x{cseq};rport\r\n\
Max-Forwards: 70\r\nFrom: \"Phone {ext}\" <sip:{ext}@pbx.example.com>;tag=8f2a{phone}\r\n\
To: <sip:{ext}@pbx.example.com>\r\nCall-ID: {call}\r\nCSeq: {cseq} {method}\r\n\
Contact: <sip:{ext}@{host}:5060;transport=udp>;expires=3600\r\n"
            )
        };
        let ua = "User-Agent: Yealink SIP-T46S 66.86.0.15\r\n";
        let auth = format!(
            "Authorization: Digest username=\"acct{phone}\", realm=\"asterisk\", nonce=\"1736936553/0c4f1b9e\", uri=\"sip:pbx.example.com\", response=\"8f2f4e4d9c2b6e1a0f4f3c5d7e9a1b2c\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"a1b2c3\"\r\n"
        );
        let mut push = |bytes: String, direction| {
            out.push(Sample {
                bytes: bytes.into_bytes(),
                peer,
                direction,
            })
        };
        let to = Direction::ToAsterisk;
        let from = Direction::FromAsterisk;
        push(
            format!(
                "REGISTER sip:pbx.example.com SIP/2.0\r\n{}{ua}Expires: 3600\r\nContent-Length: 0\r\n\r\n",
                common("REGISTER", 1)
            ),
            to,
        );
        push(
            format!(
                "SIP/2.0 401 Unauthorized\r\n{}WWW-Authenticate: Digest realm=\"asterisk\",nonce=\"1736936553/0c4f1b9e\",opaque=\"5a2c\",algorithm=MD5,qop=\"auth\"\r\nServer: Asterisk PBX 22.1.0\r\nContent-Length: 0\r\n\r\n",
                common("REGISTER", 1)
            ),
            from,
        );
        push(
            format!(
                "REGISTER sip:pbx.example.com SIP/2.0\r\n{}{auth}{ua}Expires: 3600\r\nContent-Length: 0\r\n\r\n",
                common("REGISTER", 2)
            ),
            to,
        );
        push(
            format!(
                "SIP/2.0 200 OK\r\n{}Server: Asterisk PBX 22.1.0\r\nContent-Length: 0\r\n\r\n",
                common("REGISTER", 2)
            ),
            from,
        );
        push(
            format!(
                "OPTIONS sip:{ext}@pbx.example.com SIP/2.0\r\n{}{ua}Accept: application/sdp\r\nContent-Length: 0\r\n\r\n",
                common("OPTIONS", 3)
            ),
            to,
        );
        push(
            format!(
                "INVITE sip:0212345678@pbx.example.com SIP/2.0\r\n{}{ua}Content-Type: application/sdp\r\nContent-Length: 0\r\n\r\n",
                common("INVITE", 4)
            ),
            to,
        );
    }
    out
}

fn bench(c: &mut Criterion) {
    let corpus = corpus();
    let mut group = c.benchmark_group("guard");
    group.throughput(Throughput::Elements(corpus.len() as u64));
    group.sample_size(20);

    group.bench_function("extract", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for s in &corpus {
                if let Ok(m) = parse_message(black_box(&s.bytes)) {
                    n += m.from_user().map_or(0, <[u8]>::len)
                        + m.auth_username().map_or(0, <[u8]>::len)
                        + m.call_id.map_or(0, <[u8]>::len)
                        + usize::from(m.user_agent.is_some());
                }
            }
            n
        })
    });

    group.bench_function("extract+engine", |b| {
        let mut engine = Engine::new(GuardPolicy::default()).expect("default policy");
        let mut ms = 1_750_000_000_000u64;
        b.iter(|| {
            let mut events = 0usize;
            for s in &corpus {
                ms += 1;
                let now = Timestamp(ms);
                let obs = match parse_message(black_box(&s.bytes)) {
                    Ok(m) => Observation::from_sip(&m, now, s.peer, Transport::Udp, s.direction),
                    Err(_) => Observation::malformed(now, s.peer, Transport::Udp),
                };
                events += engine.observe(&obs, now).events.len();
            }
            events
        })
    });

    group.bench_function("rsip-for-comparison", |b| {
        use rsip::prelude::*;
        b.iter(|| {
            let mut n = 0usize;
            for s in &corpus {
                if let Ok(m) = rsip::SipMessage::try_from(black_box(s.bytes.as_slice())) {
                    n += m
                        .from_header()
                        .ok()
                        .and_then(|f| f.typed().ok())
                        .map_or(0, |f| f.uri.user().map_or(0, str::len));
                    n += m.call_id_header().map_or(0, |c| c.value().len());
                }
            }
            n
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
