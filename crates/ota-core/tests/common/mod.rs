//! Helpers shared by the integration tests.
#![allow(dead_code)]

use ota_core::{
    Action, CampaignId, CampaignOptions, CampaignSpec, ConnId, DeviceId, DeviceReport, Engine,
    FirmwareRef, ImageKind, Record, Target, Timestamp,
};

/// The legacy fixture's build stamp (`test.bin`).
pub const BUILD: &str = "Aug 14 2017 20:31:49";
pub const OWNER: &str = "dima@mail.ua";
pub const PROJECT: &str = "My Dashboard";
pub const ADMIN: &str = "admin@blynk.cc";

pub fn fw(build: Option<&str>) -> FirmwareRef {
    FirmwareRef {
        id: "fw-1".into(),
        build: build.map(str::to_owned),
        version: None,
        fw_type: None,
        kind: ImageKind::Esp8266,
        size: 1000,
        md5: "00".repeat(16),
        sha256: "00".repeat(32),
    }
}

pub fn spec(target: Target) -> CampaignSpec {
    spec_with(target, fw(Some(BUILD)), CampaignOptions::default())
}

pub fn spec_with(target: Target, firmware: FirmwareRef, options: CampaignOptions) -> CampaignSpec {
    CampaignSpec {
        target,
        firmware,
        options,
        initiator: ADMIN.into(),
    }
}

/// The legacy test info body: `ver 0.3.1 h-beat 10 buff-in 256 dev Arduino ... build <b>`.
pub fn report(build: Option<&str>) -> DeviceReport {
    DeviceReport {
        build: build.map(str::to_owned),
        firmware_version: Some("0.3.3".into()),
        fw_type: None,
        template: None,
        board: Some("Arduino".into()),
    }
}

pub fn t(ms: u64) -> Timestamp {
    Timestamp(ms)
}

pub const D: DeviceId = DeviceId(1);
pub const C1: ConnId = ConnId(1);
pub const C2: ConnId = ConnId(2);

/// Drains records then actions, as the server does.
pub fn drain(engine: &mut Engine) -> (Vec<Record>, Vec<Action>) {
    let mut records = Vec::new();
    while let Some(r) = engine.poll_record() {
        records.push(r);
    }
    let mut actions = Vec::new();
    while let Some(a) = engine.poll_action() {
        actions.push(a);
    }
    (records, actions)
}

/// Only the actions.
pub fn actions(engine: &mut Engine) -> Vec<Action> {
    drain(engine).1
}

pub fn send(conn: ConnId, campaign: CampaignId, device: DeviceId, attempt: u8) -> Action {
    Action::SendOta {
        conn,
        campaign,
        device,
        attempt,
    }
}

/// `device` (owner/project defaults) sends its info on `conn`.
pub fn info(engine: &mut Engine, now: u64, conn: ConnId, device: DeviceId, build: Option<&str>) {
    engine.device_info(t(now), conn, device, OWNER, PROJECT, &report(build));
}
