//! Support for accel's conformance suite (being written).
