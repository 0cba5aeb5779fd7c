//! The policy table: risk level × agent status → decision.

use core::fmt;

use crate::behavior::AgentStatus;
use crate::behavior::fixed::mask32;
use crate::wire::Risk;

/// What the host should do with a tool call. Numeric values are frozen (records, C ABI) and ordered by
/// severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Decision {
    /// Run it.
    Allow = 0,
    /// Run it, but log and surface it.
    Caution = 1,
    /// Run it only after a human (or a higher authority) approves.
    RequireApproval = 2,
    /// Do not run it.
    Deny = 3,
    /// Do not run it; the agent itself is quarantined.
    Quarantined = 4,
}

impl Decision {
    /// All values in numeric order.
    pub const ALL: [Decision; 5] = [
        Decision::Allow,
        Decision::Caution,
        Decision::RequireApproval,
        Decision::Deny,
        Decision::Quarantined,
    ];

    /// The value for a numeric code.
    pub const fn from_u8(v: u8) -> Option<Decision> {
        match v {
            0 => Some(Decision::Allow),
            1 => Some(Decision::Caution),
            2 => Some(Decision::RequireApproval),
            3 => Some(Decision::Deny),
            4 => Some(Decision::Quarantined),
            _ => None,
        }
    }
    /// Total conversion (codes above 4 saturate to `Quarantined`, the most restrictive). A clamp and a
    /// table load: the `match` it replaces compiled to a jump table wherever the verdict is stored
    /// (`Gate::check_batch`, the driver's decision records), an indirect branch mispredicted on most
    /// calls (callgrind `--branch-sim`).
    pub const fn from_u8_saturating(v: u8) -> Decision {
        const BY_CODE: [Decision; 8] = [
            Decision::Allow,
            Decision::Caution,
            Decision::RequireApproval,
            Decision::Deny,
            Decision::Quarantined,
            Decision::Quarantined,
            Decision::Quarantined,
            Decision::Quarantined,
        ];
        BY_CODE[if v > 7 { 7 } else { v as usize }]
    }
    /// Lower-case name with underscores.
    pub const fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Caution => "caution",
            Decision::RequireApproval => "require_approval",
            Decision::Deny => "deny",
            Decision::Quarantined => "quarantined",
        }
    }
    /// Whether the host may run the call without further approval.
    pub const fn permits(self) -> bool {
        matches!(self, Decision::Allow | Decision::Caution)
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The decision for each (risk level, agent status): `Risk::COUNT × AgentStatus::COUNT` = 24 entries,
/// stored as codes, row-major by risk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Policy {
    table: [u8; Policy::LEN],
}

/// Why a policy table was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyError {
    /// The entry at this index is not a decision code.
    BadCode(usize),
    /// Unknown risk at this status would be allowed: tcap fails closed.
    FailOpen(AgentStatus),
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::BadCode(i) => write!(f, "policy entry {i} is not a decision code (0..=4)"),
            PolicyError::FailOpen(s) => write!(f, "policy allows unknown commands for {s} agents"),
        }
    }
}

const fn idx(risk: Risk, status: AgentStatus) -> usize {
    risk as usize * AgentStatus::COUNT + status as usize
}

impl Policy {
    /// Number of entries.
    pub const LEN: usize = Risk::COUNT * AgentStatus::COUNT;

    /// The default policy. Columns are Trusted, Monitored, Restricted, Quarantined:
    ///
    /// | risk | trusted | monitored | restricted | quarantined |
    /// |---|---|---|---|---|
    /// | Safe | allow | allow | caution | quarantined |
    /// | Low | allow | allow | caution | quarantined |
    /// | Medium | caution | caution | require approval | quarantined |
    /// | High | require approval | require approval | deny | quarantined |
    /// | Critical | deny | deny | deny | quarantined |
    /// | Unknown | require approval | deny | deny | quarantined |
    pub const DEFAULT: Policy = {
        use Decision::*;
        let rows: [[Decision; 4]; 6] = [
            [Allow, Allow, Caution, Quarantined],
            [Allow, Allow, Caution, Quarantined],
            [Caution, Caution, RequireApproval, Quarantined],
            [RequireApproval, RequireApproval, Deny, Quarantined],
            [Deny, Deny, Deny, Quarantined],
            [RequireApproval, Deny, Deny, Quarantined],
        ];
        let mut table = [0u8; Policy::LEN];
        let mut i = 0;
        while i < Policy::LEN {
            table[i] = rows[i / 4][i % 4] as u8;
            i += 1;
        }
        Policy { table }
    };

    /// Builds a policy from decisions indexed `[risk][status]`. Refuses a table that allows an unknown
    /// command at any status (fail closed); use [`Policy::set`] to override that deliberately.
    pub const fn new(rows: [[Decision; 4]; 6]) -> Result<Policy, PolicyError> {
        let mut table = [0u8; Policy::LEN];
        let mut i = 0;
        while i < Policy::LEN {
            table[i] = rows[i / 4][i % 4] as u8;
            i += 1;
        }
        Policy::from_codes(table)
    }

    /// Builds a policy from 24 codes (row-major by risk), e.g. from a configuration file or the C ABI.
    pub const fn from_codes(table: [u8; Policy::LEN]) -> Result<Policy, PolicyError> {
        let mut i = 0;
        while i < Policy::LEN {
            if table[i] > Decision::Quarantined as u8 {
                return Err(PolicyError::BadCode(i));
            }
            i += 1;
        }
        let mut s = 0;
        while s < AgentStatus::COUNT {
            if table[Risk::Unknown as usize * AgentStatus::COUNT + s] == Decision::Allow as u8 {
                return Err(PolicyError::FailOpen(AgentStatus::ALL[s]));
            }
            s += 1;
        }
        Ok(Policy { table })
    }

    /// The 24 codes, row-major by risk.
    pub const fn codes(&self) -> [u8; Policy::LEN] {
        self.table
    }

    /// The decision for this risk and status (a direct table read).
    #[inline(always)]
    pub const fn get(&self, risk: Risk, status: AgentStatus) -> Decision {
        Decision::from_u8_saturating(self.table[idx(risk, status)])
    }

    /// Overrides one entry (no fail-closed check: the caller takes responsibility).
    pub fn set(&mut self, risk: Risk, status: AgentStatus, decision: Decision) {
        self.table[idx(risk, status)] = decision as u8;
    }

    /// The decision code for entry `index` (`risk·4 + status`) by scanning all 24 entries with masks: no
    /// branch and no memory access depends on `index` or on the entries.
    #[inline(always)]
    pub fn get_ct(&self, index: u32) -> u8 {
        let mut out = 0u32;
        for (i, &code) in self.table.iter().enumerate() {
            out |= code as u32 & mask32(i as u32 == index);
        }
        out as u8
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_fails_closed_and_follows_upstream_for_trusted() {
        let p = Policy::DEFAULT;
        for s in AgentStatus::ALL {
            assert_ne!(p.get(Risk::Unknown, s), Decision::Allow);
            assert_eq!(p.get(Risk::Unknown, s) as u8, p.get_ct(idx(Risk::Unknown, s) as u32));
        }
        assert_eq!(p.get(Risk::Critical, AgentStatus::Trusted), Decision::Deny);
        assert_eq!(p.get(Risk::High, AgentStatus::Trusted), Decision::RequireApproval);
        assert_eq!(p.get(Risk::Medium, AgentStatus::Trusted), Decision::Caution);
        assert_eq!(p.get(Risk::Low, AgentStatus::Trusted), Decision::Allow);
        for r in Risk::ALL {
            assert_eq!(p.get(r, AgentStatus::Quarantined), Decision::Quarantined);
            // Never more permissive for a more restricted agent.
            for w in AgentStatus::ALL.windows(2) {
                assert!(p.get(r, w[0]) <= p.get(r, w[1]));
            }
        }
        assert_eq!(Policy::from_codes(p.codes()), Ok(p));
    }

    #[test]
    fn refuses_bad_tables() {
        let mut codes = Policy::DEFAULT.codes();
        codes[3] = 5;
        assert_eq!(Policy::from_codes(codes), Err(PolicyError::BadCode(3)));
        let mut codes = Policy::DEFAULT.codes();
        codes[idx(Risk::Unknown, AgentStatus::Monitored)] = 0;
        assert_eq!(Policy::from_codes(codes), Err(PolicyError::FailOpen(AgentStatus::Monitored)));
        assert!(Policy::new([[Decision::Deny; 4]; 6]).is_ok());
    }

    #[test]
    fn get_ct_matches_get_everywhere() {
        let mut p = Policy::DEFAULT;
        p.set(Risk::Safe, AgentStatus::Restricted, Decision::Deny);
        for r in Risk::ALL {
            for s in AgentStatus::ALL {
                assert_eq!(p.get_ct(idx(r, s) as u32), p.get(r, s) as u8);
            }
        }
        assert_eq!(p.get_ct(24), 0);
        for d in Decision::ALL {
            assert_eq!(Decision::from_u8(d as u8), Some(d));
        }
        assert_eq!(Decision::from_u8(5), None);
    }
}
