"""The LoRA library in a real browser (headless Chromium at 1440x900): search, cards with preview
and trigger words, an incompatible LoRA greyed with its reason, two LoRAs added at per-stage
strengths and the estimate following them; screenshot tests/artifacts/lora-library.png."""

from __future__ import annotations

import re

import pytest

from tests.browser.test_ui_browser import fill_number, shot, studio_page, tab
from tests.test_ui_loras import make_library

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    root = tmp_path_factory.mktemp("lora-browser")
    files = make_library(root / "weights")
    with studio_page(root, root / "weights") as page:
        page.loras = files
        yield page


def set_slider(page, elem_id: str, value: float) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Tab")


def add(page, label: str, stage1: float, stage2: float) -> None:
    page.locator("#generate-lora-pick input").click()
    page.get_by_role("option", name=label).click()
    set_slider(page, "generate-lora-strength", stage1)
    set_slider(page, "generate-lora-stage2", stage2)
    page.locator("#generate-lora-add").click()


def test_library_search_cards_and_adding_two_loras(page):
    from playwright.sync_api import expect

    tab(page, "Text / Image to Video")
    page.locator("#generate-loras").get_by_text("LoRAs (library)").click()
    cards = page.locator("#generate-lora-cards")
    expect(cards.locator(".lora-card")).to_have_count(5)  # 3 in the weights folder + the 2 demo LoRAs
    incompatible = cards.locator(".lora-card.incompatible")
    expect(incompatible).to_have_count(1)
    expect(incompatible).to_contain_text("is for LTX-2.3 (22B, 2.3)")
    watercolor = cards.locator(".lora-card", has_text="Watercolor Style")
    expect(watercolor.locator("img.lora-preview")).to_be_visible()
    expect(watercolor).to_contain_text("wtrclr")
    page.locator("#generate-lora-search textarea, #generate-lora-search input").first.fill("wtrclr")
    expect(cards.locator(".lora-card")).to_have_count(1)
    page.locator("#generate-lora-search textarea, #generate-lora-search input").first.fill("")
    expect(cards.locator(".lora-card")).to_have_count(5)

    before = page.locator("#generate-estimate").inner_text()
    add(page, "Watercolor Style (watercolor.safetensors)", 0.8, 0.3)
    expect(page.locator("#generate-lora-message")).to_contain_text("Added **Watercolor Style**".replace("**", ""))
    add(page, "Dolly In (dolly.safetensors)", 0.5, 0)
    chosen = page.locator("#generate-lora-chosen")
    expect(chosen).to_contain_text("watercolor.safetensors: stage 1 0.8, stage 2 0.3")
    expect(chosen).to_contain_text("dolly.safetensors: stage 1 0.5, stage 2 0")
    expect(page.locator("#generate-estimate")).to_contain_text(re.compile(r"peak memory"))
    fill_number(page, "generate-width", 256)  # the estimate is recomputed with the LoRAs in the job
    expect(page.locator("#generate-estimate")).not_to_have_text(before)
    page.locator("#generate-loras").scroll_into_view_if_needed()
    page.locator("#generate-lora-search").scroll_into_view_if_needed()
    shot(page, "lora-library")
