"""`distill-data train sft` with ``push`` set, against the local Hub server: one commit to a model repo, which
transformers loads back (model, tokenizer and the Zephyr chat template)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BUNDLED_SAMPLE, REPO
from hub_server import WRITE_TOKEN, serve
from huggingface_hub import CommitOperationAdd, HfApi, constants

from distill_data import build, load_recipe

REPO_ID = "tester/smoke-sft"
COMMIT_MESSAGE = "Upload SFT model trained with distill-data"
MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja")


@pytest.fixture()
def hub(tmp_path: Path):
    server, _, _ = serve(tmp_path / "hub")
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def sft_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The UltraChat SFT dataset, built from the bundled sample (as in test_train.py)."""
    recipe = load_recipe(REPO / "recipes" / "ultrachat_200k.yaml")
    recipe.inputs = [str(BUNDLED_SAMPLE)]
    return build(recipe, tmp_path_factory.mktemp("train-push-data") / "ultrachat", progress=False).output


def env_for(server, home: Path, token: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_ENDPOINT=server.url, HF_HUB_DISABLE_XET="1", HF_HOME=str(home), HF_HUB_DISABLE_TELEMETRY="1")
    if token is not None:
        env["HF_TOKEN"] = token
    return env


def local_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


LOAD_BACK = """\
import json
from transformers import AutoModelForCausalLM, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("tester/smoke-sft")
model = AutoModelForCausalLM.from_pretrained("tester/smoke-sft")
text = tokenizer.apply_chat_template(
    [{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True
)
print(json.dumps({
    "model_type": model.config.model_type,
    "vocab_size": model.config.vocab_size,
    "tokenizer_size": len(tokenizer),
    "eos_token": tokenizer.eos_token,
    "parameters": sum(p.numel() for p in model.parameters()),
    "text": text,
}))
"""


def test_train_sft_pushes_a_model_that_loads_back(sft_data: Path, hub, tmp_path: Path) -> None:
    out = tmp_path / "sft"
    command = [
        sys.executable,
        "-m",
        "distill_data.cli",
        "train",
        "sft",
        "--recipe",
        "recipes/smoke/sft.yaml",
        "--set",
        f"datasets.0.path={sft_data}",
        "--set",
        f"training.output_dir={out}",
        "--set",
        "training.max_steps=2",
        "--set",
        f"push.repo_id={REPO_ID}",
    ]
    trained = subprocess.run(
        command,
        cwd=REPO,
        env=env_for(hub, tmp_path / "hf_home", WRITE_TOKEN),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert trained.returncode == 0, trained.stdout + trained.stderr

    # One commit, to the model repo (no dataset repo of that name appears).
    history = hub.commits(REPO_ID, repo_type="model")
    assert [message for _, message in history] == [COMMIT_MESSAGE]
    assert hub.head(REPO_ID, repo_type="model") == history[0][0]
    assert not (hub.root / REPO_ID).exists()
    assert (hub.root / ".models" / REPO_ID / "model.safetensors").is_file()

    # The repo holds the output folder but metrics.jsonl, byte for byte.
    local = local_files(out)
    assert "metrics.jsonl" in local and not any(path.startswith("checkpoint-") for path in local)
    expected = {path: data for path, data in local.items() if path != "metrics.jsonl"}
    remote = sorted(HfApi(endpoint=hub.url, token=False).list_repo_files(REPO_ID))
    assert remote == sorted(expected)
    assert set(MODEL_FILES) <= set(remote)
    assert local_files(hub.root / ".models" / REPO_ID) == expected
    assert any("/tester/smoke-sft.git/info/lfs/objects/batch" in line for line in hub.log)

    # transformers loads it back from the server (anonymously: the repo is public), chat template included.
    start = len(hub.log)
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD_BACK],
        cwd=tmp_path,
        env=env_for(hub, tmp_path / "reader_home", None),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    info = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert info["model_type"] == "mistral" and info["eos_token"] == "</s>"
    assert info["vocab_size"] == info["tokenizer_size"] and info["parameters"] > 0
    assert info["text"] == "<|user|>\nHi</s>\n<|assistant|>\n"
    reads, sha = hub.log[start:], history[0][0]  # transformers resolves main to its sha, then reads at that sha
    for filename in MODEL_FILES:
        assert f"GET /tester/smoke-sft/resolve/{sha}/{filename}" in reads

    # The token went to the server only: in no file of the output folder, the repo or HF_HOME, in no output.
    for folder in (out, hub.root, tmp_path / "hf_home", tmp_path / "reader_home"):
        for path in folder.rglob("*"):
            assert not path.is_file() or WRITE_TOKEN.encode() not in path.read_bytes(), path
    for stream in (trained.stdout, trained.stderr, loaded.stdout, loaded.stderr):
        assert WRITE_TOKEN not in stream


def test_model_and_dataset_repos_of_one_name_live_apart(hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    api = HfApi(endpoint=hub.url, token=WRITE_TOKEN)
    assert api.create_repo("twin").url == f"{hub.url}/tester/twin"  # no repo_type: a model repo
    assert api.create_repo("tester/twin", repo_type="dataset").url == f"{hub.url}/datasets/tester/twin"
    assert api.create_repo("tester/twin", repo_type="model", exist_ok=True).repo_id == "tester/twin"
    big = os.urandom(20 * 1024)  # over the LFS threshold
    on_model = api.create_commit(
        "tester/twin",
        [CommitOperationAdd("weights.bin", big), CommitOperationAdd("a.txt", b"model\n")],
        commit_message="model files",
    )
    api.create_commit(
        "tester/twin", [CommitOperationAdd("a.txt", b"dataset\n")], commit_message="data", repo_type="dataset"
    )
    assert hub.commits("tester/twin", repo_type="model") == [(on_model.oid, "model files")]
    assert [message for _, message in hub.commits("tester/twin")] == ["data"]
    assert on_model.commit_url == f"{hub.url}/tester/twin/commit/{on_model.oid}"
    assert api.model_info("tester/twin").sha == on_model.oid
    assert sorted(api.list_repo_files("tester/twin")) == ["a.txt", "weights.bin"]
    assert api.list_repo_files("tester/twin", repo_type="dataset") == ["a.txt"]
    tree = {f.path: f for f in api.list_repo_tree("tester/twin", recursive=True)}
    assert tree["weights.bin"].lfs is not None and tree["a.txt"].lfs is None

    api.create_branch("tester/twin", branch="dev")
    on_dev = api.create_commit(
        "tester/twin", [CommitOperationAdd("b.txt", b"b\n")], commit_message="on dev", revision="dev"
    )
    assert hub.commits("tester/twin", "dev", repo_type="model") == [
        (on_model.oid, "model files"),
        (on_dev.oid, "on dev"),
    ]
    assert (hub.root / ".models" / ".branches" / "tester" / "twin" / "dev" / "b.txt").read_bytes() == b"b\n"

    def download(filename: str, **kwargs) -> bytes:
        return Path(api.hf_hub_download("tester/twin", filename, cache_dir=tmp_path / "cache", **kwargs)).read_bytes()

    assert download("weights.bin") == big
    assert download("a.txt") == b"model\n"
    assert download("a.txt", repo_type="dataset") == b"dataset\n"
    assert download("b.txt", revision="dev") == b"b\n"
    assert "HEAD /tester/twin/resolve/main/weights.bin" in hub.log
