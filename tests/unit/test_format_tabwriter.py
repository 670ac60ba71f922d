"""Unit tests for dockyard.cli.format.tabwriter (Go's text/tabwriter, docker's fork).

Expected layouts are Go's: the examples from Go's text/tabwriter documentation and
docker's table settings (minwidth 10, tabwidth 1, padding 3, space padding), which were
also checked against ``docker network ls --format 'table ...'``.
"""

from __future__ import annotations

import io

import pytest

from dockyard.cli.format.tabwriter import (
    ALIGN_RIGHT,
    DEBUG,
    DISCARD_EMPTY_COLUMNS,
    TabWriter,
    format_table,
    text_width,
)


def run(text: str, *args: object) -> str:
    tw = TabWriter(None, *args)  # type: ignore[arg-type]
    tw.write(text)
    return tw.flush()


def test_docker_table_defaults() -> None:
    assert format_table([["NETWORK ID", "NAME"], ["c2f8ef85f255", "host"]]) == (
        "NETWORK ID     NAME\n"
        "c2f8ef85f255   host\n"
    )


def test_minwidth_and_padding() -> None:
    assert format_table([["NAME", "DRIVER"], ["host", "host"], ["none", "null"]]) == (
        "NAME      DRIVER\n"
        "host      host\n"
        "none      null\n"
    )
    assert format_table([["averyveryverylongcell", "x"], ["a", "y"]]) == (
        "averyveryverylongcell   x\n"
        "a                       y\n"
    )


def test_last_cell_not_padded_and_trailing_tab() -> None:
    # a trailing tab makes the preceding cell part of a column; the empty last cell is
    # printed as nothing
    assert run("NAME\t\nhost\t\n", 10, 1, 3, " ", 0) == "NAME      \nhost      \n"
    assert run("NAME\tDRIVER\t\nhost\thost\t\n", 10, 1, 3, " ", 0) == (
        "NAME      DRIVER    \n"
        "host      host      \n"
    )


def test_columns_are_blocks_of_consecutive_lines() -> None:
    text = "NAME\t\tSCOPE\nhost\taveryveryverylongcell\tlocal\nnone\t\tlocal\n"
    assert run(text, 10, 1, 3, " ", 0) == (
        "NAME                              SCOPE\n"
        "host      averyveryverylongcell   local\n"
        "none                              local\n"
    )


def test_single_cell_line_ends_the_block() -> None:
    text = "a\tb\nsingle line here\nccccccccccccc\td\n"
    assert run(text, 10, 1, 3, " ", 0) == (
        "a         b\n"
        "single line here\n"
        "ccccccccccccc   d\n"
    )


def test_ragged_lines() -> None:
    text = "x\ty\tz\na\tb\n"
    assert run(text, 10, 1, 3, " ", 0) == (
        "x         y         z\n"
        "a         b\n"
    )


def test_go_example_elastic() -> None:
    # Go's text/tabwriter Example_elastic
    text = "a\tb\tc\naa\tbb\tcc\naaa\t\naaaa\tdddd\teeee\n"
    assert run(text, 0, 0, 1, ".", ALIGN_RIGHT | DEBUG) == (
        "....a|..b|c\n"
        "...aa|.bb|cc\n"
        "..aaa|\n"
        ".aaaa|.dddd|eeee\n"
    )


def test_go_example_trailing_tab() -> None:
    # Go's text/tabwriter Example_trailingTab
    text = "a\tb\taligned\t\naa\tbb\taligned\t\naaa\tbbb\tunaligned\naaaa\tbbbb\taligned\t\n"
    assert run(text, 0, 0, 3, "-", ALIGN_RIGHT | DEBUG) == (
        "------a|------b|---aligned|\n"
        "-----aa|-----bb|---aligned|\n"
        "----aaa|----bbb|unaligned\n"
        "---aaaa|---bbbb|---aligned|\n"
    )


def test_go_example_init_tabs_and_right_alignment() -> None:
    # Go's text/tabwriter ExampleWriter_Init
    text = "a\tb\tc\td\t.\n123\t12345\t1234567\t123456789\t.\n\n"
    assert run(text, 0, 8, 0, "\t", 0) == (
        "a\tb\tc\td\t\t.\n"
        "123\t12345\t1234567\t123456789\t.\n"
        "\n"
    )
    assert run(text, 5, 0, 1, " ", ALIGN_RIGHT) == (
        "    a     b       c         d.\n"
        "  123 12345 1234567 123456789.\n"
        "\n"
    )


def test_discard_empty_columns() -> None:
    text = "a\v\vb\nc\v\vd\n"
    # the all-empty, soft-tab (\v) terminated middle column vanishes with the flag
    assert run(text, 0, 0, 1, " ", DISCARD_EMPTY_COLUMNS) == "a b\nc d\n"
    assert run(text, 0, 0, 1, " ", 0) == "a  b\nc  d\n"


def test_wide_characters_count_double() -> None:
    assert text_width("日本語") == 6
    assert text_width("café") == 4
    assert text_width("e\u0301") == 1  # combining accent
    assert format_table([["日本語", "x"], ["ab", "y"]], 0, 1, 1) == "日本語 x\nab     y\n"


def test_unterminated_last_line_is_flushed() -> None:
    assert run("a\tb\ncc\tdd", 0, 1, 1, " ", 0) == "a  b\ncc dd"


def test_streaming_writes_to_output() -> None:
    buf = io.StringIO()
    tw = TabWriter(buf, 10, 1, 3, " ", 0)
    tw.write("ID\tNAME\n")
    tw.write("x\ty")
    assert buf.getvalue() == ""  # the block is still open
    tw.write("\nsingle\n")  # a single-cell line flushes the block
    assert buf.getvalue() == "ID        NAME\nx         y\nsingle\n"
    tw.write("p\tq\n")
    assert tw.flush() == "ID        NAME\nx         y\nsingle\np         q\n"
    assert buf.getvalue() == "ID        NAME\nx         y\nsingle\np         q\n"
    assert tw.flush() == ""


def test_cells_split_across_writes() -> None:
    tw = TabWriter(None, 0, 1, 1, " ", 0)
    for piece in ["ab", "c\td", "\n", "x", "\t", "y\n"]:
        tw.write(piece)
    assert tw.flush() == "abc d\nx   y\n"


def test_formfeed_flushes() -> None:
    assert run("a\tb\fccc\td\n", 0, 1, 1, " ", 0) == "a b\nccc d\n"


def test_negative_settings_rejected() -> None:
    with pytest.raises(ValueError):
        TabWriter(None, -1, 1, 1, " ", 0)


def test_empty_table() -> None:
    assert format_table([]) == ""
    assert format_table([[""]]) == "\n"


def test_uniform_fast_path_matches_the_full_writer() -> None:
    import random

    from dockyard.cli.format.tabwriter import TabWriter, layout_uniform

    rng = random.Random(7)
    alphabet = "abcXYZ019 :./<>-"
    for _ in range(300):
        cells = rng.randint(1, 6)
        lines = []
        for _ in range(rng.randint(1, 8)):
            row = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
                   for _ in range(cells)]
            lines.append("\t".join(row) + "\n")
        tw = TabWriter(None, 10, 1, 3, " ", 0)
        for line in lines:
            tw.write(line)
        assert layout_uniform(lines) == tw.flush(), lines
    # Not applicable: ragged rows, wide characters, control characters.
    assert layout_uniform(["a\tb\n", "c\n"]) is None
    assert layout_uniform(["日本\tb\n"]) is None
    assert layout_uniform(["a\x1b\tb\n"]) is None
