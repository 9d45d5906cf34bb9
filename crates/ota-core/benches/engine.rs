//! Engine benchmarks: decision latency per info message with 100k tracked devices and
//! 10 active campaigns, and heap bytes of engine state per tracked device (counted by
//! an instrumenting global allocator; requested sizes, without malloc's own overhead).
//!
//! Run: `cargo bench -p ota-core --bench engine`. The memory figures are printed first.
// Bench harness: a failed setup is a failed run, and `iter_custom` needs a wall clock.
#![allow(clippy::expect_used, clippy::disallowed_methods)]

use std::alloc::System;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group};
use ota_core::{
    CampaignOptions, CampaignSpec, ConnId, DeviceId, DeviceReport, Engine, FirmwareRef, ImageKind,
    Target, Timestamp,
};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const DEVICES: u64 = 100_000;
/// 1000 owners with 100 devices each, two projects per owner.
const PER_OWNER: u64 = 100;
const TARGET_BUILD: &str = "Dec  4 2026 15:03:23";
const OLD_BUILD: &str = "Nov 30 2026 09:12:44";

struct Names {
    owners: Vec<String>,
    projects: [&'static str; 2],
}

impl Names {
    fn new() -> Names {
        Names {
            owners: (0..DEVICES / PER_OWNER)
                .map(|o| format!("user{o}@example.com"))
                .collect(),
            projects: ["Greenhouse", "Garage"],
        }
    }

    fn owner(&self, d: u64) -> &str {
        &self.owners[((d / PER_OWNER) as usize) % self.owners.len()]
    }

    fn project(&self, d: u64) -> &str {
        self.projects[(d % 2) as usize]
    }
}

fn report(build: &str) -> DeviceReport {
    DeviceReport {
        build: Some(build.into()),
        firmware_version: Some("1.2.0".into()),
        fw_type: Some("TMPL4aBcDeFg".into()),
        template: Some("TMPL4aBcDeFg".into()),
        board: Some("ESP8266".into()),
    }
}

fn firmware(build: &str) -> FirmwareRef {
    FirmwareRef {
        id: format!("sha256-of-{build}"),
        build: Some(build.into()),
        version: Some("1.3.0".into()),
        fw_type: Some("TMPL4aBcDeFg".into()),
        kind: ImageKind::Esp8266,
        size: 480_000,
        md5: "07".repeat(16),
        sha256: "09".repeat(32),
    }
}

/// 10 active campaigns: all devices, 4 owners, 4 owner projects, 1 token.
fn campaigns(engine: &mut Engine, names: &Names) {
    let mut targets = vec![Target::All];
    for o in 1..5 {
        targets.push(Target::User(names.owner(o * PER_OWNER).into()));
    }
    for o in 5..9 {
        let d = o * PER_OWNER;
        targets.push(Target::UserProject {
            email: names.owner(d).into(),
            project: names.project(d).into(),
        });
    }
    targets.push(Target::Token(DeviceId(DEVICES - 1)));
    for target in targets {
        let spec = CampaignSpec {
            target,
            firmware: firmware(TARGET_BUILD),
            options: CampaignOptions::default(),
            initiator: "admin@example.com".into(),
        };
        engine
            .start_campaign(Timestamp(0), spec, &[ConnId(DEVICES - 1)])
            .expect("valid campaign");
    }
}

/// Device `d` sends its info on connection `d`.
fn login(engine: &mut Engine, names: &Names, d: u64, now: u64, report: &DeviceReport) {
    engine.device_info(
        Timestamp(now),
        ConnId(d),
        DeviceId(d),
        names.owner(d),
        names.project(d),
        report,
    );
}

fn drain(engine: &mut Engine) -> usize {
    let mut n = 0;
    while engine.poll_record().is_some() {
        n += 1;
    }
    while engine.poll_action().is_some() {
        n += 1;
    }
    n
}

/// Every device logs in once with its old build: every one is sent a command.
fn populated(names: &Names, old: &DeviceReport) -> Engine {
    let mut engine = Engine::new();
    campaigns(&mut engine, names);
    for d in 0..DEVICES {
        login(&mut engine, names, d, 1_000, old);
        drain(&mut engine);
    }
    engine
}

fn memory_report(names: &Names) {
    let old = report(OLD_BUILD);
    let region = Region::new(GLOBAL);
    let mut engine = populated(names, &old);
    let net = |r: &Region<System>| {
        let s = r.change();
        s.bytes_allocated as i64 - s.bytes_deallocated as i64
    };
    let sent = net(&region);
    let new = report(TARGET_BUILD);
    for d in 0..DEVICES {
        login(&mut engine, names, d, 9_000, &new);
        drain(&mut engine);
    }
    let updated = net(&region);
    for d in 0..DEVICES {
        engine.disconnected(ConnId(d));
    }
    let offline = net(&region);
    let per = |b: i64| b as f64 / DEVICES as f64;
    println!(
        "ota-core memory, {DEVICES} devices, 10 active campaigns (heap bytes requested, net):"
    );
    println!(
        "  all online, all Sent      : {:>11} B = {:>6.1} B/device",
        sent,
        per(sent)
    );
    println!(
        "  all online, all Updated   : {:>11} B = {:>6.1} B/device",
        updated,
        per(updated)
    );
    println!(
        "  all offline, all Updated  : {:>11} B = {:>6.1} B/device",
        offline,
        per(offline)
    );
    println!(
        "  size_of::<Engine>() = {} B (inline, once)",
        std::mem::size_of::<Engine>()
    );
    black_box(engine);
}

fn bench_info(c: &mut Criterion) {
    let names = Names::new();
    memory_report(&names);
    let old = report(OLD_BUILD);
    let new = report(TARGET_BUILD);
    let mut group = c.benchmark_group("ota_core_info_100k_devices_10_campaigns");

    // A device already on the target build logs in again: decision "up to date", no
    // state change (the steady case for a fleet that is done).
    let mut engine = populated(&names, &old);
    for d in 0..DEVICES {
        login(&mut engine, &names, d, 2_000, &new);
    }
    drain(&mut engine);
    let mut d = 0u64;
    group.bench_function("repeat_info_up_to_date", |b| {
        b.iter(|| {
            d = (d + 7919) % DEVICES;
            login(&mut engine, &names, d, 3_000, &new);
            black_box(drain(&mut engine))
        })
    });
    drop(engine);

    // A device not seen before logs in with an old build: decision "send", with its
    // record and action drained (what the server pays per login). Fresh device ids
    // beyond the 100k; the engine is rebuilt (untimed) when it has grown by 200k.
    let mut engine = populated(&names, &old);
    let mut next = DEVICES;
    group.bench_function("first_info_send", |b| {
        b.iter_custom(|iters| {
            if next + iters > 3 * DEVICES {
                engine = populated(&names, &old);
                next = DEVICES;
            }
            let start = std::time::Instant::now();
            for _ in 0..iters {
                let d = next;
                next += 1;
                login(&mut engine, &names, d, 3_000, &old);
                black_box(drain(&mut engine));
            }
            start.elapsed()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench_info
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
