//! The rootfs scenarios through the full runtime: `berth run` of a busybox bundle, observed
//! from inside the container (and, for the hostile cases, from the host).

mod common;
mod rootfs_scenarios;

use common::Bundle;
use rootfs_scenarios::Runner;
use std::process::Output;

struct BerthRun;

impl Runner for BerthRun {
    fn run(&self, b: &Bundle, id: &str, no_pivot: bool) -> Output {
        let bundle = b.dir.to_string_lossy().into_owned();
        let mut args = vec!["run", "--bundle", &bundle];
        if no_pivot {
            args.push("--no-pivot");
        }
        args.push(id);
        b.berth(&args)
    }
}

rootfs_scenario_tests!(BerthRun);

/// `berth spec`'s own bundle (the common helper) gets the default /dev and mounts too.
#[test]
fn spec_bundle_has_dev_nodes() {
    if !common::require_root("spec_bundle_has_dev_nodes") {
        return;
    }
    let b = Bundle::busybox(&["stat", "-c", "%t %T %a", "/dev/null"]);
    let out = b.run_ok(&common::unique_id("specdev"));
    assert_eq!(out.trim(), "1 3 666");
}
