"""An agent's question as a form (lfgtui/elicitation.py): the requested schema read leniently, what the
person entered checked against it (required, types, choices, minimum and maximum), and a malformed
schema shown as far as it can be, never an exception."""

from __future__ import annotations

from typing import Any

import pytest

from lfgtui.elicitation import Kind, answer_text, check, read_form

RELEASE = {
    "type": "object",
    "title": "Release",
    "required": ["name", "builds"],
    "properties": {
        "name": {"type": "string", "title": "Name", "minLength": 2, "maxLength": 5},
        "builds": {"type": "integer", "minimum": 1, "maximum": 10},
        "ratio": {"type": "number", "maximum": 1.5},
        "channel": {"type": "string", "enum": ["stable", "beta"]},
        "tier": {"type": "string", "oneOf": [{"const": "t1", "title": "Tier one"}]},
        "notify": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b", "c"]}, "maxItems": 2},
    },
}


def test_a_form_reads_each_kind_of_field() -> None:
    form = read_form(RELEASE)
    kinds = {f.name: f.kind for f in form.fields}
    assert kinds == {
        "name": Kind.TEXT,
        "builds": Kind.INTEGER,
        "ratio": Kind.NUMBER,
        "channel": Kind.CHOICE,
        "tier": Kind.CHOICE,
        "notify": Kind.BOOLEAN,
        "tags": Kind.CHOICES,
    }
    assert form.answerable and not form.problems and form.title == "Release"
    assert [f.name for f in form.fields if f.required] == ["name", "builds"]
    assert form.fields[4].choices[0].title == "Tier one" and form.fields[1].bounds() == "1 to 10"


def test_what_fits_the_schema_becomes_the_content() -> None:
    entered: dict[str, Any] = {
        "name": "v2",
        "builds": " 3 ",
        "ratio": "0.5",
        "channel": "beta",
        "notify": False,
        "tags": ("a", "c"),
    }
    content, problems = check(read_form(RELEASE), entered)
    assert problems == {}
    assert content == {
        "name": "v2",
        "builds": 3,
        "ratio": 0.5,
        "channel": "beta",
        "notify": False,
        "tags": ["a", "c"],
    }
    assert answer_text("accept", {"name": "v2", "notify": False}) == "accepted: name=v2, notify=no"


@pytest.mark.parametrize(
    ("entered", "problem"),
    [
        ({"builds": "3"}, ("name", "required")),
        ({"name": "v", "builds": "3"}, ("name", "2 to 5 characters")),
        ({"name": "v2", "builds": "3.5"}, ("builds", "a whole number")),
        ({"name": "v2", "builds": "11"}, ("builds", "1 to 10")),
        ({"name": "v2", "builds": "0"}, ("builds", "1 to 10")),
        ({"name": "v2", "builds": "2", "ratio": "nan"}, ("ratio", "a finite number")),
        ({"name": "v2", "builds": "2", "ratio": "x"}, ("ratio", "a number")),
        ({"name": "v2", "builds": "2", "ratio": "2"}, ("ratio", "at most 1.5")),
        ({"name": "v2", "builds": "2", "channel": "alpha"}, ("channel", "choose one of the choices")),
        ({"name": "v2", "builds": "2", "tags": ("a", "b", "c")}, ("tags", "at most 2 chosen")),
        ({"name": "v2", "builds": "2", "tags": ("z",)}, ("tags", "choose from the list")),
    ],
)
def test_what_does_not_fit_is_named_with_its_field(entered: dict[str, Any], problem: tuple[str, str]) -> None:
    assert check(read_form(RELEASE), entered)[1] == dict([problem])


@pytest.mark.parametrize(
    "schema",
    [
        None,
        "a string",
        {"properties": []},
        {"properties": {"x": "not an object"}, "required": "x"},
        {"properties": {"x": {"type": "date"}, "y": {"type": "string", "enum": 3}}, "required": ["x", "z"]},
        {"properties": {"x": {"type": "integer", "minimum": 5, "maximum": 1, "title": 7}}},
        {"properties": {f"f{i}": {"type": "string"} for i in range(60)}, "required": ["f59"]},
    ],
)
def test_a_malformed_schema_is_read_as_far_as_it_can_be(schema: Any) -> None:
    form = read_form(schema)
    shown = [f.problem for f in form.fields if f.problem] + list(form.problems)
    assert shown, "what lfg could not read is said"
    content, problems = check(form, {})
    assert isinstance(content, dict) and isinstance(problems, dict)


def test_a_form_that_requires_what_lfg_cannot_fill_in_cannot_be_accepted() -> None:
    unknown = read_form({"properties": {"x": {"type": "date"}}, "required": ["x"]})
    assert not unknown.answerable and unknown.fields[0].problem == "type 'date', which lfg cannot fill in"
    assert check(unknown, {})[1] == {"x": "lfg cannot fill it in: type 'date', which lfg cannot fill in"}
    optional = read_form({"properties": {"x": {"type": "date"}, "y": {"type": "boolean"}}})
    assert optional.answerable and check(optional, {"y": True}) == ({"y": True}, {})
    assert not read_form({"properties": {}, "required": ["gone"]}).answerable
    assert not read_form(
        {"properties": {f"f{i}": {"type": "string"} for i in range(60)}, "required": ["f59"]}
    ).answerable
