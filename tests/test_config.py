from pathlib import Path

import pytest

from certledger.config import ConfigError, load_settings


def write(d: Path, text: str) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "config.toml").write_text(text, encoding="utf-8")
    return d


def test_defaults_without_file(tmp_path):
    s = load_settings(tmp_path, environ={})
    assert s.blockchain.enabled is False
    assert s.platform.admin_role_id == 1
    assert s.server.port == 8000
    assert s.database_url.startswith("sqlite:///") and s.database_url.endswith("certledger.db")


def test_file_and_environment_override(tmp_path):
    d = write(tmp_path, "[blockchain]\nenabled = true\n[server]\nport = 9000\n")
    s = load_settings(d, environ={"CERTLEDGER_SERVER__PORT": "9100"})
    assert s.blockchain.enabled is True
    assert s.server.port == 9100


def test_seed_property_aliases_in_file(tmp_path):
    d = write(tmp_path, "becp.ecms.blockChain.enabled = true\nbecp.ecms.config.adminRoleId = 7\n")
    s = load_settings(d, environ={})
    assert s.blockchain.enabled is True
    assert s.platform.admin_role_id == 7


def test_seed_aliases_in_environment(tmp_path):
    s = load_settings(tmp_path, environ={"BECP_ECMS_BLOCKCHAIN_ENABLED": "true", "BECP_ECMS_CONFIG_ADMINROLEID": "3"})
    assert s.blockchain.enabled is True and s.platform.admin_role_id == 3


def test_typo_in_key_names_it_and_suggests(tmp_path):
    d = write(tmp_path, "[blockchain]\nenabeld = true\n")
    with pytest.raises(ConfigError) as e:
        load_settings(d, environ={})
    msg = str(e.value)
    assert "blockchain.enabeld" in msg and "did you mean 'blockchain.enabled'" in msg
    assert "\n" not in msg


def test_wrong_value_names_key_value_and_origin(tmp_path):
    d = write(tmp_path, "[server]\nport = 99999\n")
    with pytest.raises(ConfigError) as e:
        load_settings(d, environ={})
    assert "server.port = 99999" in str(e.value) and "config.toml" in str(e.value)


def test_wrong_value_from_environment_names_the_variable(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_settings(tmp_path, environ={"CERTLEDGER_BLOCKCHAIN__ENABLED": "perhaps"})
    assert "CERTLEDGER_BLOCKCHAIN__ENABLED" in str(e.value)


def test_unknown_environment_key(tmp_path):
    with pytest.raises(ConfigError, match="unknown key 'blockchain.enable'"):
        load_settings(tmp_path, environ={"CERTLEDGER_BLOCKCHAIN__ENABLE": "true"})


def test_invalid_toml(tmp_path):
    d = write(tmp_path, "[server\nport=1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(d, environ={})


def test_unrelated_environment_is_ignored(tmp_path):
    s = load_settings(tmp_path, environ={"CERTLEDGER_DATA": "/x", "PATH": "/bin"})
    assert s.server.port == 8000


def test_overdue_job_interval_default_override_disable_and_bounds(tmp_path):
    assert load_settings(tmp_path, environ={}).jobs.overdue_interval_seconds == 86400
    d = write(tmp_path, "[jobs]\noverdue_interval_seconds = 3600\n")
    assert load_settings(d, environ={}).jobs.overdue_interval_seconds == 3600
    assert load_settings(d, environ={"CERTLEDGER_JOBS__OVERDUE_INTERVAL_SECONDS": "0"}).jobs.overdue_interval_seconds == 0
    with pytest.raises(ConfigError) as e:
        load_settings(d, environ={"CERTLEDGER_JOBS__OVERDUE_INTERVAL_SECONDS": "-1"})
    assert "jobs.overdue_interval_seconds = '-1' from environment variable" in str(e.value)


def test_qr_codes_point_at_the_public_url_when_one_is_set(tmp_path):
    from issuance.pipeline.documents import verify_base_url

    s = load_settings(tmp_path, environ={"CERTLEDGER_SERVER__HOST": "0.0.0.0", "CERTLEDGER_SERVER__PORT": "9100"})
    assert verify_base_url(s.server) == "http://127.0.0.1:9100"
    s = load_settings(tmp_path, environ={"CERTLEDGER_SERVER__PUBLIC_URL": "https://zz.example.gov.cn/"})
    assert verify_base_url(s.server) == "https://zz.example.gov.cn"
    with pytest.raises(ConfigError, match="public_url"):
        load_settings(tmp_path, environ={"CERTLEDGER_SERVER__PUBLIC_URL": "javascript:alert(1)"})
