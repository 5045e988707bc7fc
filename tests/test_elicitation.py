"""An agent's question as a form (lfgtui/run/agents/elicitation.py): the requested schema read
leniently, what the person entered checked against it (required, types, choices, minimum and
maximum), and a malformed schema shown as far as it can be, never an exception."""

from __future__ import annotations

from typing import Any

import pytest

from lfgtui.run.agents.elicitation import (
    MAX_ANSWER_CHARS,
    MAX_CHOICES,
    MAX_FORM_BYTES,
    MAX_NAME_CHARS,
    MAX_QUESTION_CHARS,
    Entering,
    Kind,
    answer_text,
    check,
    entering,
    read_form,
)

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


def test_a_form_too_big_to_show_is_cut_to_fit_and_says_what_was_cut() -> None:
    """No size an agent gives can break what shows the form: a `maxLength` of 2^31 is lowered to what
    lfg takes, choices past `MAX_CHOICES` are cut, and each cut is said in the form's problems."""
    form = read_form(
        {
            "title": "T" * 5000,
            "properties": {
                "name": {"type": "string", "title": "Name", "maxLength": 2**31},
                "pick": {"type": "string", "title": "Pick", "enum": [f"c{n}" for n in range(150)]},
                "essay": {"type": "string", "minLength": MAX_ANSWER_CHARS + 1},
                "n" * (MAX_NAME_CHARS + 1): {"type": "string"},
                "odd": {"type": "string", "enum": ["ok", "v" * (MAX_NAME_CHARS + 1)]},
                "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "minItems": 3},
            },
            "required": ["name"],
        }
    )
    name, pick, essay, long_name, odd, tags = form.fields
    assert name.max_length == MAX_ANSWER_CHARS and name.bounds() == f"at most {MAX_ANSWER_CHARS} characters"
    assert len(pick.choices) == MAX_CHOICES and not pick.problem
    assert essay.problem == "it asks for at least 10001 characters, more than lfg takes (10000)"
    assert long_name.problem == f"its name is longer than {MAX_NAME_CHARS} characters"
    assert len(long_name.name) == MAX_NAME_CHARS
    assert [c.value for c in odd.choices] == ["ok"]
    assert tags.problem == "it asks for at least 3 chosen of 2 choices"
    assert form.problems == (
        f"Name: it takes at most {MAX_ANSWER_CHARS} characters here (its schema: {2**31})",
        f"Pick: 50 more choices than lfg shows ({MAX_CHOICES}): choose from the first ones",
        f"odd: 1 choices longer than {MAX_NAME_CHARS} characters left out",
        "its title or description is cut",
    )
    assert form.answerable and len(form.title) == MAX_NAME_CHARS
    assert check(form, {"name": "x" * (MAX_ANSWER_CHARS + 1)})[1] == {"name": "at most 10000 characters"}


def test_a_question_too_big_is_refused_where_it_enters_and_a_long_one_is_cut() -> None:
    many = {"properties": {"pick": {"type": "string", "enum": [f"choice {n}" for n in range(100_000)]}}}
    refused = entering("Pick one", many)
    assert refused.form == {} and refused.refused.startswith("its form is 1,")
    assert refused.refused.endswith(f"bytes of JSON, more than lfg takes ({MAX_FORM_BYTES:,})")
    cut = entering("?" * (MAX_QUESTION_CHARS + 5), RELEASE)
    assert cut.form == RELEASE and not cut.refused
    assert cut.question.endswith("?… (lfg cut 5 more characters)")
    odd = {"properties": {"\ud800": {"type": "string"}}}  # a lone surrogate, as JSON may carry it
    assert entering("?", odd) == Entering("?", odd)


def test_an_answer_as_json_carries_it_is_checked_as_the_persons_entries_are() -> None:
    """A watcher's answer comes typed (numbers as numbers, choices as a list): the same check, and a
    name the form does not have is refused."""
    form = read_form(RELEASE)
    typed = {"name": "v2", "builds": 3.0, "ratio": 1, "tags": ["a", "c"], "notify": True}
    content = {"name": "v2", "builds": 3, "ratio": 1, "tags": ["a", "c"], "notify": True}
    assert check(form, typed) == (content, {})
    assert check(form, {"name": "v2", "builds": 2.5})[1] == {"builds": "a whole number"}
    assert check(form, {"name": 7, "builds": 11})[1] == {"name": "expected text", "builds": "1 to 10"}
    assert check(form, {"name": "v2", "builds": 2, "tags": ["a", "a"]})[1] == {"tags": "choose from the list"}
    assert check(form, {"name": "v2", "builds": 2, "admin": True})[1] == {"admin": "not a field of this form"}
