//! `list`'s table, laid out like runc's (Go tabwriter: min width 12, padding 3).

use crate::state::OciState;

/// `berth list`'s table of `list`, laid out like runc's.
pub fn list_table(list: &[OciState]) -> String {
    let header = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
        .map(String::from)
        .to_vec();
    let mut rows = vec![header];
    for s in list {
        rows.push(vec![
            s.id.clone(),
            s.pid.to_string(),
            s.status.clone(),
            s.bundle.display().to_string(),
            s.created.clone(),
            s.owner.clone(),
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count() + 3)
                .max()
                .unwrap_or(0)
                .max(12)
        })
        .collect();
    let mut out = String::new();
    for r in &rows {
        for (c, cell) in r.iter().enumerate() {
            if c == 5 {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}", w = widths[c]));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align() {
        let s = OciState {
            oci_version: "1.2.0".into(),
            id: "a-rather-long-container-id".into(),
            pid: 123,
            status: "running".into(),
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "T".into(),
            owner: "root".into(),
            annotations: Default::default(),
        };
        let t = list_table(&[s]);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("ID                           PID"));
        assert_eq!(lines[0].find("PID"), lines[1].find("123"));
        assert_eq!(lines[0].find("STATUS"), lines[1].find("running"));
    }
}
