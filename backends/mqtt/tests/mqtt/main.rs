//! Tests of the MQTT notifier against real Mosquitto brokers: the shared one named by
//! `EDGESYNC_TEST_MQTT_URL`, and throwaway `mosquitto` processes the tests kill and restart.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod outage;
mod overflow;
mod payloads;
mod support;
mod tls;
