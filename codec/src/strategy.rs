//! proptest strategies for every packet type (feature `proptest`).
