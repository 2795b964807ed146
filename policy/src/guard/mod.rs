//! The SIP guard: a tolerant SIP extractor and the detection engine (observations in, events and ban decisions out).
