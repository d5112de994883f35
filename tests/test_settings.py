from pathlib import Path

import pytest

from realtime.errors import ConfigError
from realtime.settings import PRESETS_DIR, Settings, load_preset, merge


def test_shipped_presets_load():
    names = sorted(p.stem for p in PRESETS_DIR.glob("*.toml"))
    assert names == ["default", "low-latency", "quality"]
    for name in names:
        s = load_preset(PRESETS_DIR / f"{name}.toml")
        assert isinstance(s, Settings) and s.source.width > 0


def test_unknown_key_names_key_and_file(tmp_path: Path):
    f = tmp_path / "bad.toml"
    f.write_text("[source]\nwidht = 640\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: unknown key 'source\.widht'"):
        load_preset(f)


def test_wrong_type_names_key_file_and_type(tmp_path: Path):
    f = tmp_path / "bad.toml"
    f.write_text('[pipeline]\nworkers = "two"\n')
    with pytest.raises(ConfigError, match=r"bad\.toml: 'pipeline\.workers' must be int, got str"):
        load_preset(f)
    f.write_text("log_level = 3\n")
    with pytest.raises(ConfigError, match="'log_level' must be str"):
        load_preset(f)


def test_invalid_toml_is_a_config_error(tmp_path: Path):
    f = tmp_path / "broken.toml"
    f.write_text("[source\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_preset(f)


def test_flags_override_the_preset():
    base = load_preset(PRESETS_DIR / "quality.toml")
    s = merge(base, {"source.size": (640, 360), "face": ["a.jpg"], "faces.detect_every": 3})
    assert (s.source.width, s.source.height, s.source.fps) == (640, 360, 30.0)
    assert s.face == ("a.jpg",) and s.faces.detect_every == 3 and s.faces.detector == "full"
    assert s.pipeline.workers == 2  # untouched preset value


@pytest.mark.parametrize("value", ["/etc/cron.d/x.mp4", "../../outside.mp4", "sub/../../up.mp4"])
def test_a_preset_cannot_write_outside_its_folder(tmp_path: Path, value: str):
    f = tmp_path / "p.toml"
    f.write_text(f'[output]\noutput = "{value}"\n')
    with pytest.raises(ConfigError, match="outside the preset's folder"):
        load_preset(f)
    f.write_text(f'stats_json = "{value}"\n')
    with pytest.raises(ConfigError, match="outside"):
        load_preset(f)


def test_a_preset_path_inside_its_folder_is_resolved_there(tmp_path: Path):
    f = tmp_path / "p.toml"
    f.write_text('[output]\noutput = "rec/out.mp4"\n')
    assert load_preset(f).output.output == str(tmp_path / "rec" / "out.mp4")
