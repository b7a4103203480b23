//! Container filesystem setup. (Interim minimal version on main; the full module lands from the rootfs work.)

use std::path::Path;

pub struct RootfsConfig<'a> {
    pub spec: &'a oci_spec::runtime::Spec,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    pub no_pivot: bool,
    pub user_namespace: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RootfsError(String);

pub fn validate(_spec: &oci_spec::runtime::Spec, _bundle: &Path) -> Result<(), RootfsError> {
    Ok(())
}

pub fn setup_rootfs(cfg: &RootfsConfig) -> Result<(), RootfsError> {
    use nix::mount::{mount, MsFlags};
    let e = |w: &str| {
        let w = w.to_string();
        move |err: nix::Error| RootfsError(format!("{w}: {err}"))
    };
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(e("rslave /"))?;
    mount(
        Some(cfg.rootfs),
        cfg.rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(e("bind rootfs"))?;
    for m in cfg.spec.mounts().iter().flatten() {
        let target = cfg
            .rootfs
            .join(m.destination().strip_prefix("/").unwrap_or(m.destination()));
        let _ = std::fs::create_dir_all(&target);
        let typ = m.typ().as_deref();
        if matches!(typ, Some("proc") | Some("tmpfs")) {
            mount(
                Some(typ.unwrap_or("")),
                &target,
                typ,
                MsFlags::empty(),
                None::<&str>,
            )
            .map_err(e("mount"))?;
        }
    }
    std::env::set_current_dir(cfg.rootfs).map_err(|x| RootfsError(x.to_string()))?;
    nix::unistd::pivot_root(".", ".").map_err(e("pivot_root"))?;
    nix::mount::umount2(".", nix::mount::MntFlags::MNT_DETACH).map_err(e("umount old root"))?;
    std::env::set_current_dir("/").map_err(|x| RootfsError(x.to_string()))?;
    Ok(())
}
