"""The explorer page in a real browser: Playwright drives Debian's chromium (never a downloaded
browser) against a real uvicorn server on 127.0.0.1. Screenshots go to $AEKIT_TEST_ARTIFACTS
(default tests/artifacts/, git-ignored) for a person to look at."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from tests.server.conftest import png, serve_in_thread, shape_png

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (make browser)"
)

# The decoded <img>'s pixels, drawn into a canvas: what the user sees, not just its URL.
# The decoded image's RGBA bytes, or null while a newer image is still loading (the pad keeps
# sending decodes as the pointer moves, so the <img> can change between two evaluations).
PIXELS = """() => {
  const img = document.getElementById("decoded");
  if (!img.complete || img.naturalWidth === 0) return null;
  const canvas = document.createElement("canvas");
  canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(img, 0, 0);
  return Array.from(ctx.getImageData(0, 0, canvas.width, canvas.height).data);
}"""
DECODED = "() => { const i = document.getElementById('decoded'); return i.complete && i.naturalWidth > 0 ? i.src : null; }"  # noqa: E501


@pytest.fixture(scope="module")
def artifacts() -> Path:
    default = Path(__file__).resolve().parents[1] / "artifacts"
    path = Path(os.environ.get("AEKIT_TEST_ARTIFACTS", default))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def servers(apps):
    """servers(name) -> base URL of a running explorer over tiny_run(name)."""
    running, urls = [], {}

    def get(name: str) -> str:
        if name not in urls:
            gen = serve_in_thread(apps(name))
            urls[name] = next(gen)
            running.append(gen)
        return urls[name]

    yield get
    for gen in running:
        next(gen, None)  # runs serve_in_thread's shutdown


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def open_explorer(page, url: str) -> None:
    page.goto(url)
    page.wait_for_function(DECODED)


def wait_for_new_image(page, old: str | None) -> str:
    """Wait until the decoded <img> shows a loaded image other than `old`; its src."""
    check = f"() => {{ const s = ({DECODED})(); return s && s !== {json.dumps(old)}; }}"
    page.wait_for_function(check)
    return page.evaluate(DECODED)


def test_moving_across_the_pad_changes_the_decoded_image(page, servers, artifacts):
    open_explorer(page, servers("vae2"))
    assert "vae from run vae2" in page.inner_text("#summary")
    box = page.locator("#pad").bounding_box()
    seen, src = [], page.evaluate(DECODED)
    for fx, fy in [(0.1, 0.1), (0.5, 0.5), (0.9, 0.9), (0.1, 0.9)]:
        page.mouse.move(box["x"] + fx * box["width"], box["y"] + fy * box["height"], steps=4)
        src = wait_for_new_image(page, src)
        seen.append(np.array(page.wait_for_function(PIXELS).json_value()))
    assert seen[0].size == 16 * 16 * 4
    assert any(np.abs(seen[0] - other).sum() > 0 for other in seen[1:])
    assert page.inner_text("#zline").startswith("z = [")
    page.screenshot(path=artifacts / "explorer-pad.png", full_page=True)

    page.click("#random")
    page.wait_for_function("() => document.getElementById('random-source').textContent !== ''")
    assert "prior N(0, I)" in page.inner_text("#random-source")


def test_picking_two_test_images_draws_an_interpolation_strip(page, servers, artifacts):
    open_explorer(page, servers("vae2"))
    page.locator("#gallery button").nth(0).click()
    page.locator("#gallery button").nth(5).click()
    page.wait_for_function("() => document.querySelectorAll('#strip figure').length === 10")
    assert page.inner_text("#interp-status") == "A: test image 0, B: test image 5"
    page.fill("#steps", "4")  # fires input: the strip follows the slider
    page.wait_for_function("() => document.querySelectorAll('#strip figure').length === 6")
    page.screenshot(path=artifacts / "explorer-interpolation.png", full_page=True)


def test_an_upload_is_shown_beside_its_reconstruction(page, servers, artifacts, tmp_path):
    open_explorer(page, servers("vae2"))
    bad = tmp_path / "notes.png"
    bad.write_bytes(b"not an image at all")
    page.set_input_files("#file", str(bad))
    page.click("#apply-form button[type=submit]")
    page.wait_for_selector("#apply-error:not([hidden])")
    assert "cannot read 'notes.png' as an image" in page.inner_text("#apply-error")

    good = tmp_path / "big-square.png"
    good.write_bytes(png(np.kron(np.eye(2, dtype=np.uint8) * 255, np.ones((20, 20), np.uint8))))
    page.set_input_files("#file", str(good))
    page.click("#apply-form button[type=submit]")  # 40x40, resized to 16x16 (the default)
    page.wait_for_function("() => document.querySelectorAll('#apply-out img').length === 2")
    assert page.locator("#apply-error").is_hidden()
    captions = page.locator("#apply-out figcaption").all_inner_texts()
    assert captions == ["your image (16x16)", "reconstruction (16x16)"]
    page.screenshot(path=artifacts / "explorer-upload.png", full_page=True)


def test_longer_codes_get_sliders_and_conditional_models_a_class(page, servers, artifacts):
    open_explorer(page, servers("cae5"))
    assert page.locator("#sliders input[type=range]").count() == 5
    assert "plane of the first two principal components" in page.inner_text("#pad-help")
    src = page.evaluate(DECODED)
    page.fill("#z0", page.get_attribute("#z0", "max"))
    wait_for_new_image(page, src)
    page.screenshot(path=artifacts / "explorer-sliders.png", full_page=True)

    open_explorer(page, servers("cvae"))
    assert page.locator("#label option").count() == 2
    src = page.evaluate(DECODED)
    page.select_option("#label", "1")
    wait_for_new_image(page, src)


def test_an_upscaler_offers_only_uploads(page, servers, artifacts, tmp_path):
    page.goto(servers("sr"))
    page.wait_for_function("() => document.getElementById('action').options.length === 2")
    assert page.locator("#pad-section").is_hidden()
    image = tmp_path / "shape.png"
    image.write_bytes(shape_png(16))
    page.set_input_files("#file", str(image))
    page.click("#apply-form button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#apply-out img').length === 4")
    page.screenshot(path=artifacts / "explorer-upscaler.png", full_page=True)


@pytest.fixture(scope="module")
def melody_url(melody_app):
    gen = serve_in_thread(melody_app)
    yield next(gen)
    next(gen, None)


ROLL = "() => { const i = document.getElementById('roll'); return i.complete && i.naturalWidth > 0 ? i.src : null; }"  # noqa: E501
AUDIO = "() => document.getElementById('audio').getAttribute('src')"
AUDIO_HEAD = """async () => {
  const bytes = new Uint8Array(await (await fetch(document.getElementById("audio").src)).arrayBuffer());
  return String.fromCharCode(...bytes.slice(0, 4));
}"""  # noqa: E501


def test_a_melody_slider_redraws_the_piano_roll_and_renews_the_sound(page, melody_url, artifacts):
    from aekit.modalities.melody import render

    audio = render.audio_missing() == ""
    page.goto(melody_url)
    roll = page.wait_for_function(ROLL).json_value()
    assert "2-bar melodies of 32 16th-note steps" in page.inner_text("#summary")
    assert page.locator("#apply-section").is_hidden() and page.locator("#decoded").is_hidden()
    assert page.locator("#interp-section").is_hidden()
    assert page.locator("#sliders input[type=range]").count() == 4  # PC 1..4 of a 4-D code
    assert page.get_attribute("#midi", "href").startswith("data:audio/midi;base64,")
    if audio:
        page.wait_for_function(f"() => ({AUDIO})() !== null")
        sound = page.evaluate(AUDIO)
    else:
        assert page.locator("#audio").is_hidden()
        assert "no audio" in page.inner_text("#audio-note")

    page.fill("#d0", page.get_attribute("#d0", "min"))  # fires input: PC 1 to its far end
    check = f"() => {{ const s = ({ROLL})(); return s && s !== {json.dumps(roll)}; }}"
    page.wait_for_function(check)
    assert page.inner_text("#tokens").split(":")[0].endswith("notes")
    if audio:  # a new melody, a new sound: a WAV the <audio> element can play
        page.wait_for_function(f"() => ({AUDIO})() !== {json.dumps(sound)}")
        assert page.evaluate(AUDIO_HEAD) == "RIFF"
        duration = "() => { const a = document.getElementById('audio'); return a.readyState > 0 ? a.duration : null; }"  # noqa: E501
        assert page.wait_for_function(duration).json_value() == pytest.approx(4.5, abs=0.05)
    page.screenshot(path=artifacts / "explorer-melody.png", full_page=True)

    page.fill("#temperature", "1")
    page.click("#random")  # sample from the prior at temperature 1
    page.wait_for_function("() => document.getElementById('random-source').textContent !== ''")
    assert "prior N(0, I)" in page.inner_text("#random-source")
