"""The inbox in a real browser at a phone's size: headless Chromium, driven by Playwright, on a served
run of the sim whose agent writes markup and asks to run a long command."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from lfgtui.events import (
    ApprovalAnswered,
    ElicitationAnswered,
    ElicitationAsked,
    PromptSent,
    Status,
    TextDelta,
)
from lfgtui.sim.server import SimServer
from tests.support.browsing import CHROMIUM, CHROMIUM_FLAGS
from tests.support.patience import PATIENCE
from tests.support.serving import TOKEN, Served, served
from tests.support.streams import write_scenario

playwright = pytest.importorskip("playwright.async_api", reason="the browser test needs playwright (.[test])")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="the browser test needs Chromium from the distribution (Debian: apt-get install chromium)",
)
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
MARKUP = '<script>window.pwned = 1</script><b>Bold?</b> <img src=x onerror="window.pwned = 2">'
COMMAND = "echo '<script>window.pwned = 3</script>' " + " ".join(
    f"--flag-{n}=/a/long/path/{n}" * 3 for n in range(8)
)
TICKETS = """
[defaults]
provider = "sim"

[[ticket]]
id = "hi"
title = "<i>Say</i> hello"
prompt = "x"
model = "hello"

[[ticket]]
id = "risky"
prompt = "x"
model = "risky"
tools = ["run_command"]
"""


def hostile(scenario_dir: Path) -> None:
    """`risky`: markup in its answer, then a long command with markup in it, which needs approval."""
    write_scenario(
        scenario_dir,
        "risky",
        f'[[call]]\ntext = {json.dumps(MARKUP)}\n[[call.tool_call]]\nname = "run_command"\n'
        f'arguments = {{ command = {json.dumps(COMMAND)} }}\n[[call]]\ntext = "Ran it."\n',
    )


@contextlib.asynccontextmanager
async def on_a_phone(sim: SimServer, tmp_path: Path, tickets: str) -> AsyncIterator[tuple[Served, Any]]:
    """A served run of `tickets`, started, whose calls and questions wait for watchers; and a page of
    headless Chromium at a phone's size (closed at the end)."""
    async with (
        served(sim, tmp_path, tickets, control=True, yes=False) as run,
        playwright.async_playwright() as driver,
    ):
        run.run.start()
        browser = await driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield run, await browser.new_page(**PHONE)
        finally:
            await browser.close()


async def overflows(page: object) -> bool:
    return await page.evaluate(  # type: ignore[attr-defined, no-any-return]
        "document.documentElement.scrollWidth > document.documentElement.clientWidth"
    )


async def test_on_a_phone_the_inbox_shows_what_waits_as_text_and_approve_moves_it(
    sim: SimServer, scenario_dir: Path, tmp_path: Path
) -> None:
    hostile(scenario_dir)
    async with on_a_phone(sim, tmp_path, TICKETS) as (run, page):
        await page.goto(f"{run.url}/inbox")  # no token: the page asks for it, and knows a wrong one
        await page.locator("#token").fill("not-the-token-0123456789")
        await page.get_by_role("button", name="Open the inbox").tap()
        await page.locator("#login-why", has_text="The run refused this token.").wait_for()
        assert await page.locator("#inbox").is_hidden()
        await page.goto(f"{run.url}/inbox#token={TOKEN}")
        waiting = page.locator('#needs-you li[data-ticket="risky"]', has_text="approve run_command?")
        await waiting.wait_for()
        hi = page.locator('#unread li[data-ticket="hi"]')
        await hi.wait_for()
        assert page.url == f"{run.url}/inbox", "the token is taken out of the address"
        assert await waiting.locator("pre.value").inner_text() == COMMAND
        assert await waiting.locator("pre.answer").inner_text() == MARKUP
        assert await page.locator("#unread .title").inner_text() == "<i>Say</i> hello"
        assert await page.locator("main img, main b, main i, main script").count() == 0
        assert await page.evaluate("window.pwned") is None
        assert await page.title() == "1 need you · lfg inbox"
        assert not await overflows(page)
        await page.screenshot(path=tmp_path / "inbox.png", full_page=True)

        await waiting.get_by_role("button", name="Approve").tap()
        await page.locator('#unread li[data-ticket="risky"]').wait_for()
        assert await page.locator("#needs-you li").count() == 0
        assert await page.title() == "lfg inbox"
        assert not await overflows(page)

        await hi.get_by_label("follow-up to hi").fill("And in French?")
        await hi.get_by_role("button", name="Send follow-up").tap()
        await hi.locator(".note", has_text="sent").wait_for()
        async with asyncio.timeout(20 * PATIENCE):
            while not [e for e in run.events if isinstance(e, PromptSent) and e.attempt == 2]:
                await asyncio.sleep(0.05)
        await asyncio.wait_for(run.run.wait(), 20 * PATIENCE)
    answered = [e.message for e in run.events if isinstance(e, ApprovalAnswered)]
    assert answered == ["run_command approved by 127.0.0.1 (inbox)"]
    asked = [(e.attempt, e.text) for e in run.events if isinstance(e, PromptSent) and e.ticket == "hi"]
    assert asked == [(1, "x"), (2, "And in French?")]


async def test_on_a_phone_an_agents_question_is_answered_with_its_form(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sim agent's release form (lfgtui/sim/scenarios/elicit.toml): a wrong value is refused on the
    page, saying why; the form sent reaches the agent, typed as its schema asks."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # the agent's log
    tickets = '[[ticket]]\nid = "rel"\nprompt = "x"\nprovider = "sim-acp"\nmodel = "elicit:ttft_ms=0"\n'
    async with on_a_phone(sim, tmp_path, tickets) as (run, page):
        await page.goto(f"{run.url}/inbox#token={TOKEN}")
        form = page.locator('#needs-you li[data-ticket="rel"] .request', has_text="asks you")
        await form.wait_for(timeout=60_000)  # the agent's start: slow on a loaded machine
        card = page.locator('#needs-you li[data-ticket="rel"]')
        assert "how should I name the release?" in await card.locator(".detail").inner_text()
        assert await card.locator("form.follow-up").is_hidden(), "its turn goes on once answered"
        await form.get_by_label("Name").fill("v4")
        await form.get_by_label("Builds to keep").fill("2.5")
        await form.get_by_role("button", name="Send").tap()
        await form.locator(".note", has_text="Not sent: Builds to keep: a whole number").wait_for()
        await form.get_by_label("Builds to keep").fill("2")
        await form.get_by_label("Channel").select_option("beta")
        assert not await overflows(page)
        await page.screenshot(path=tmp_path / "question.png", full_page=True)
        await form.get_by_role("button", name="Send").tap()
        await page.locator('#unread li[data-ticket="rel"]').wait_for()
        await asyncio.wait_for(run.run.wait(), 30 * PATIENCE)
    said = "".join(e.text for e in run.events if isinstance(e, TextDelta))
    assert '{"builds": 2, "channel": "beta", "name": "v4", "notify": false}' in said, said


RISKY = '[[ticket]]\nid = "risky"\nprompt = "x"\nprovider = "sim"\nmodel = "risky"\ntools = ["run_command"]\n'
"""`risky` alone: it waits for its command to be approved (`hostile`)."""


def asks_a_form(folder: Path, name: str, properties: dict[str, dict[str, object]]) -> str:
    """A sim ACP agent's scenario asking a form of `properties` (in the agent's scenario folder):
    their values are text, whole numbers and lists of text, which JSON writes as TOML reads them."""
    toml = f'[elicit]\nmessage = "Fill in {name}"\n'
    for field, spec in properties.items():
        toml += f"[elicit.schema.properties.{field}]\n"
        toml += "".join(f"{key} = {json.dumps(value)}\n" for key, value in spec.items())
    (folder / f"{name}.toml").write_text(toml + "[[call]]\ntext = 'Went on.'\n")
    return name


@pytest.mark.timeout(180)  # two agents start: slow on a loaded machine
async def test_a_form_too_big_for_the_page_is_cut_to_fit_and_every_ticket_that_needs_you_is_listed(
    sim: SimServer, scenario_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One agent's field has `maxLength` 2^31 and 150 choices, another's form has 100,000 choices: the
    first is shown cut to fit, saying what was cut, beside the approval another ticket waits for; the
    second is declined where it enters, saying why, and never reaches the page."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # the agents' logs
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # the agents' scenarios
    scenarios = tmp_path / "config" / "lfgtui" / "scenarios"
    scenarios.mkdir(parents=True)
    big = {
        "name": {"type": "string", "title": "Name", "maxLength": 2**31},
        "pick": {"type": "string", "title": "Pick", "enum": [f"choice {n}" for n in range(150)]},
    }
    huge = {"pick": {"type": "string", "enum": [f"choice {n}" for n in range(100_000)]}}
    hostile(scenario_dir)
    tickets = RISKY + "".join(
        f'[[ticket]]\nid = "{name}"\nprompt = "x"\nprovider = "sim-acp"\nmodel = "{name}"\n'
        for name in (asks_a_form(scenarios, "big", big), asks_a_form(scenarios, "huge", huge))
    )
    async with on_a_phone(sim, tmp_path, tickets) as (run, page):
        await page.goto(f"{run.url}/inbox#token={TOKEN}")
        form = page.locator('#needs-you li[data-ticket="big"] .request', has_text="asks you")
        await form.wait_for(timeout=60_000)  # the agent's start: slow on a loaded machine
        await page.locator('#needs-you li[data-ticket="risky"]', has_text="approve run_command?").wait_for()
        await page.locator('#unread li[data-ticket="huge"]').wait_for(timeout=60_000)
        assert await page.title() == "2 need you · lfg inbox"
        assert await form.get_by_label("Name").evaluate("input => input.maxLength") == 10_000
        assert await form.get_by_label("Pick").locator("option").count() == 1 + 100  # "—" and the first 100
        cuts = await form.locator(".problem").all_inner_texts()
        assert cuts == [
            "Name: it takes at most 10000 characters here (its schema: 2147483648)",
            "Pick: 50 more choices than lfg shows (100): choose from the first ones",
        ]
        assert not await overflows(page)
        await form.get_by_label("Name").fill("v4")
        await form.get_by_label("Pick").select_option("choice 99")
        await form.get_by_role("button", name="Send").tap()
        await page.locator('#unread li[data-ticket="big"]').wait_for(timeout=60_000)
    [refused] = [e for e in run.events if isinstance(e, ElicitationAnswered) and e.ticket == "huge"]
    assert refused.by == "lfg" and "bytes of JSON, more than lfg takes (100,000)" in refused.message
    [asked] = [e for e in run.events if isinstance(e, ElicitationAsked) and e.ticket == "huge"]
    assert asked.form == {} and not asked.waits
    [answered] = [e for e in run.events if isinstance(e, ElicitationAnswered) and e.ticket == "big"]
    assert answered.content == {"name": "v4", "pick": "choice 99"}


async def test_an_item_the_page_cannot_draw_is_a_row_saying_so_and_the_rest_are_listed(
    sim: SimServer, scenario_dir: Path, tmp_path: Path
) -> None:
    """Whatever an inbox answer holds that the page does not expect (here: put in by the browser's
    network layer), the page draws the rest of it and says what it could not show."""
    hostile(scenario_dir)

    async def doctored(route: Any) -> None:
        answer = await route.fetch()
        inbox = await answer.json()
        inbox["needs_you"].insert(0, {"ticket": "ghost", "state": "asked", "requests": 5})
        for item in inbox["needs_you"][1:]:
            item["requests"].append({"kind": "elicitation", "call": "bad", "fields": None})
        await route.fulfill(response=answer, json=inbox)

    async with on_a_phone(sim, tmp_path, RISKY) as (run, page):
        await page.route("**/v1/inbox*", doctored)
        await page.goto(f"{run.url}/inbox#token={TOKEN}")
        waiting = page.locator('#needs-you li[data-ticket="risky"]', has_text="approve run_command?")
        await waiting.wait_for()
        ghost = page.locator('#needs-you li.broken[data-ticket="ghost"]')
        assert "this request could not be shown here" in await ghost.inner_text()
        assert "answer it in lfg" in await waiting.locator(".request.problem").inner_text()
        assert await page.locator("#status").inner_text() == "live"
        await waiting.get_by_role("button", name="Approve").tap()
        await page.locator('#unread li[data-ticket="risky"]').wait_for()
        await asyncio.wait_for(run.run.wait(), 20 * PATIENCE)


async def test_on_a_phone_a_running_ticket_is_sent_words_whose_held_list_is_edited_and_taken_back(
    sim: SimServer, tmp_path: Path
) -> None:
    """The composer says what Enter does; what the ticket holds shows in order, as text, each editable
    and removable until sent, line breaks and all; the one left goes as the ticket's next turn."""
    tickets = (
        '[[ticket]]\nid = "t"\nprompt = "Look around."\nprovider = "sim"\nmodel = "steer-rounds"\n'
        'tools = ["write_file", "list_dir", "read_file"]\n'
    )
    async with on_a_phone(sim, tmp_path, tickets) as (run, page):
        await page.goto(f"{run.url}/inbox#token={TOKEN}")
        card = page.locator('#needs-you li[data-ticket="t"]', has_text="approve write_file?")
        await card.wait_for()  # its first round's write_file waits: the turn runs, with a safe point ahead
        says = card.locator(".compose .says")
        assert await says.inner_text() == (
            "Enter steers t: sent after this round's tool results, before its next call."
        )
        await card.get_by_label("steer or queue", exact=True).select_option("queue")
        assert await says.inner_text() == "Enter queues this as t's next turn, sent once this turn ends."
        words = card.get_by_label("steer or queue for t")
        for text in ("then a haiku\nabout rain", MARKUP):
            await words.fill(text)
            await words.press("Enter")
            await card.locator(".compose .note", has_text="sent").wait_for()
        held = card.locator("li.held-message")
        await held.nth(1).wait_for()
        assert [label.strip() for label in await held.locator(".key").all_inner_texts()] == [
            "#1 queued from 127.0.0.1 (inbox):",
            "#2 queued from 127.0.0.1 (inbox):",
        ]
        assert await held.nth(1).locator(".held-text").inner_text() == MARKUP
        assert await page.locator("main img, main b, main script").count() == 0
        assert await page.evaluate("window.pwned") is None

        await held.nth(1).get_by_role("button", name="Remove").tap()
        await held.nth(1).wait_for(state="detached")
        await held.nth(0).get_by_role("button", name="Edit").tap()
        edit = held.nth(0).get_by_label("edit held message of t")
        assert await edit.input_value() == "then a haiku\nabout rain", "its line breaks, to edit"
        await edit.fill("then a tanka\nabout rain")
        await edit.press("Enter")
        await card.locator(".held-text", has_text="then a tanka").wait_for()
        assert not await overflows(page)
        await page.screenshot(path=tmp_path / "held.png", full_page=True)

        await card.get_by_role("button", name="Approve").tap()
        await asyncio.wait_for(run.run.wait(), 30 * PATIENCE)
    prompts = [e.text for e in run.events if isinstance(e, PromptSent) and e.ticket == "t"]
    assert prompts == ["Look around.", "then a tanka\nabout rain"], "the one left, sent as the next turn"
    said = [e.message for e in run.events if isinstance(e, Status)]
    assert "edited by 127.0.0.1 (inbox): then a tanka about rain" in said


async def test_on_a_phone_the_new_ticket_form_adds_a_ticket_and_says_what_the_run_refuses(
    sim: SimServer, tmp_path: Path
) -> None:
    """The inbox's new-ticket form sends add-ticket: a refusal is said under it in the run's words,
    what was typed kept; an added ticket is said by its id and listed as the run's others are."""
    async with on_a_phone(sim, tmp_path, TICKETS) as (run, page):
        await page.goto(f"{run.url}/inbox#token={TOKEN}")
        await page.locator('#unread li[data-ticket="hi"]').wait_for()
        await page.locator("#new-ticket summary").tap()
        await page.locator("#new-prompt").fill("Say hello again.")
        await page.locator("#new-provider").fill("nobody")
        await page.get_by_role("button", name="Add the ticket").tap()
        refused = page.locator("#new-ticket-note.problem", has_text="unknown provider 'nobody'")
        await refused.wait_for()
        assert await page.locator("#new-prompt").input_value() == "Say hello again."
        await page.locator("#new-provider").fill("")
        await page.locator("#new-model").fill("hello")
        await page.get_by_role("button", name="Add the ticket").tap()
        await page.locator("#new-ticket-note", has_text="added-1 added to the run").wait_for()
        await page.locator('#unread li[data-ticket="added-1"]').wait_for()
        assert await page.locator("#new-prompt").input_value() == ""
        assert not await overflows(page)
    said = [e.message for e in run.events if isinstance(e, Status) and e.ticket == "added-1"]
    assert "added by 127.0.0.1 (inbox)" in said
