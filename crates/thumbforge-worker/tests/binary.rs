//! The binary's command line (`thumbforge_testkit::command_line_contract`).

#[test]
fn help_and_version_answer_and_unknown_arguments_are_refused() {
    thumbforge_testkit::command_line_contract(
        env!("CARGO_BIN_EXE_thumbforge-worker"),
        concat!("thumbforge-worker ", env!("CARGO_PKG_VERSION")),
    );
}
