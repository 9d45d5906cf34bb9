//! Durable, content-addressed storage of firmware images, with the metadata the image
//! itself tells (the `blnkinf` tag, the legacy build marker, the ESP image header).
//!
//! Skeleton: the store arrives with its own issue.
