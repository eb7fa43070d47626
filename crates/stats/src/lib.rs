//! Statistics on host values for the collapse profile and the grouped
//! reports: intervals ([`interval`]), two-sample tests on per-sample
//! scalars ([`two_sample`]), seed-level means, changes and differences
//! ([`seeds`]), and over a chain Holm's correction, onset and rate
//! ([`trend`]). No Burn: what runs on the device is `collapse-profile`'s.

#![deny(missing_docs)]

pub mod interval;
pub mod seeds;
pub mod trend;
pub mod two_sample;
