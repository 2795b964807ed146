//! `logger.conf`: the security channel is always on.

use super::Revision;
use super::writer::ConfWriter;

pub(crate) fn render_logger(revision: Revision) -> String {
    let mut w = ConfWriter::new("logger.conf", revision, 1024);
    w.section("general");
    w.set("dateformat", "%F %T.%3q");
    w.section("logfiles");
    w.object("console", "notice,warning,error");
    w.object("messages.log", "notice,warning,error");
    w.comment("Why: res_security_log writes every security event to the SECURITY level; this");
    w.comment("channel keeps an audit trail even when the guard's AMI connection is down.");
    w.object("security.log", "security");
    w.finish()
}
