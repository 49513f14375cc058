"""Access control in core: settings, passwords, the back-off, the data root, and a role check on every action."""

from __future__ import annotations

import factories
import pytest

from core.access import (
    LOCAL,
    AccessDenied,
    AccessSettings,
    Caller,
    LoginThrottle,
    Role,
    checked_data_folder,
    client_key,
    is_loopback,
    role_for_email,
    role_for_password,
)
from core.access import login as login_module
from core.datasets import loading
from core.runs.store import RunStore

VIEWER_A = Caller(Role.VIEWER, "session-a")
VIEWER_B = Caller(Role.VIEWER, "session-b")
ADMIN = Caller(Role.ADMIN, "session-admin")
PASSWORDS = AccessSettings(password="viewers-secret-1", admin_password="admins-secret-22")


# --- settings ------------------------------------------------------------------------------------


def test_environment_variables_win_over_secrets_toml():
    secrets = {"explorer": {"password": "from-secrets-file", "max_queue": 3, "admins": ["Ada@School.org"]}}
    settings = AccessSettings.load(secrets, environ={"EXPLORER_PASSWORD": "from-environment", "EXPLORER_ADMINS": ""})
    assert settings.password == "from-environment"
    assert settings.max_queue == 3
    assert settings.admins == ("ada@school.org",), "an empty variable does not hide the file's list"
    assert AccessSettings.load({}, environ={"EXPLORER_ADMINS": "a@x.org, b@y.org"}).admins == ("a@x.org", "b@y.org")


@pytest.mark.parametrize("value", ["lots", "0", "-3", "2.5"])
def test_a_queue_cap_that_is_not_a_positive_whole_number_is_refused_with_its_name(value):
    with pytest.raises(ValueError, match="EXPLORER_MAX_QUEUE"):
        AccessSettings.load({}, environ={"EXPLORER_MAX_QUEUE": value})


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        (AccessSettings(), "needs a login"),
        (AccessSettings(password="short"), "too short"),
        (AccessSettings(password="same-password-1", admin_password="same-password-1"), "are the same"),
        (AccessSettings(oidc=True), "EXPLORER_ALLOWED_EMAILS"),
    ],
)
def test_settings_that_are_not_safe_to_serve_say_why_in_one_line(settings, complaint):
    problem = settings.serving_problem()
    assert problem and complaint in problem and "\n" not in problem


def test_a_starting_data_folder_outside_the_data_root_is_not_safe_to_serve(tmp_path):
    environ = {"EXPLORER_PASSWORD": "viewers-secret-1", "EXPLORER_DATA_DIR": "/etc"}
    assert "EXPLORER_DATA_DIR" in AccessSettings.load({}, environ).serving_problem()
    environ |= {"EXPLORER_DATA_ROOT": str(tmp_path), "EXPLORER_DATA_DIR": str(tmp_path / "mnist")}
    assert AccessSettings.load({}, environ).serving_problem() is None


def test_served_means_reachable_from_elsewhere_or_a_login_set_up():
    assert not AccessSettings().is_serving("127.0.0.1")
    assert AccessSettings().is_serving("0.0.0.0") and AccessSettings().is_serving(None)
    assert PASSWORDS.is_serving("127.0.0.1"), "behind a proxy on this machine, a set password still asks"


def test_settings_safe_to_serve():
    assert PASSWORDS.serving_problem() is None
    assert AccessSettings(oidc=True, allowed_emails=("@school.org",)).serving_problem() is None


@pytest.mark.parametrize(
    ("address", "local"),
    [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False), ("", False), (None, False)],
)
def test_only_loopback_addresses_count_as_local(address, local):
    assert is_loopback(address) is local


# --- signing in ----------------------------------------------------------------------------------


def test_each_password_opens_its_role_and_nothing_else_opens_any():
    assert role_for_password(PASSWORDS, "viewers-secret-1") is Role.VIEWER
    assert role_for_password(PASSWORDS, "admins-secret-22") is Role.ADMIN
    for wrong in ("", "viewers-secret-", "viewers-secret-1 ", "ADMINS-SECRET-22"):
        assert role_for_password(PASSWORDS, wrong) is None
    assert role_for_password(AccessSettings(admin_password="admins-secret-22"), "") is None, "no viewer password set"


def test_identity_provider_accounts_get_a_role_only_when_listed():
    settings = AccessSettings(oidc=True, admins=("teacher@school.org",), allowed_emails=("@school.org", "guest@x.org"))
    assert role_for_email(settings, "Teacher@School.org") is Role.ADMIN
    assert role_for_email(settings, "pupil@school.org") is Role.VIEWER
    assert role_for_email(settings, "guest@x.org") is Role.VIEWER
    assert role_for_email(settings, "someone@gmail.com") is None
    assert role_for_email(settings, "pupil@evil-school.org") is None
    assert role_for_email(settings, None) is None
    assert role_for_email(settings, "pupil@school.org", verified=False) is None, "the provider says it is unverified"


def test_wrong_passwords_make_that_client_wait_longer_and_longer():
    now = [1000.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    for _ in range(login_module.FREE_TRIES):
        assert throttle.wait_s("10.0.0.7") == 0
        throttle.failed("10.0.0.7")
    assert throttle.wait_s("10.0.0.7") == pytest.approx(1.0)
    assert throttle.wait_s("10.0.0.8") == 0, "another client is not slowed down"
    now[0] += 1.0
    throttle.failed("10.0.0.7")
    throttle.failed("10.0.0.7")
    assert throttle.wait_s("10.0.0.7") == pytest.approx(4.0)
    for _ in range(30):
        throttle.failed("10.0.0.7")
    assert throttle.wait_s("10.0.0.7") == pytest.approx(login_module.MAX_WAIT_S)
    now[0] += login_module.MAX_WAIT_S  # once the wait is over, the right password opens and forgets the count
    assert throttle.attempt("10.0.0.7", lambda: Role.VIEWER) == (Role.VIEWER, 0.0)
    assert throttle.failures("10.0.0.7") == 0 and throttle.wait_s("10.0.0.7") == 0


def test_a_try_while_waiting_is_not_even_compared_and_tries_are_counted_atomically():
    throttle = LoginThrottle(clock=lambda: 50.0)
    compared = []

    def wrong():
        compared.append(1)
        return None

    for _ in range(login_module.FREE_TRIES):
        assert throttle.attempt("10.0.0.7", wrong) == (None, 0.0)
    role, wait = throttle.attempt("10.0.0.7", lambda: Role.ADMIN)
    assert role is None and wait == pytest.approx(1.0)
    assert len(compared) == login_module.FREE_TRIES, "the right password, sent while waiting, was not checked"
    assert throttle.attempt("10.0.0.8", lambda: Role.VIEWER) == (Role.VIEWER, 0.0)


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        (None, "unknown address"),
        ("not an address", "unknown address"),
    ],
)
def test_ipv6_clients_are_counted_by_their_slash_64(address, key):
    assert client_key(address) == key


def test_the_throttle_forgets_the_oldest_clients_beyond_its_limit(monkeypatch):
    monkeypatch.setattr(login_module, "MAX_CLIENTS", 50)
    throttle = LoginThrottle(clock=lambda: 0.0)
    for client in range(200):
        for _ in range(login_module.FREE_TRIES):
            throttle.failed(f"client-{client}")
    assert len(throttle._failures) == 50
    assert throttle.wait_s("client-199") > 0 and throttle.wait_s("client-0") == 0


# --- the data folder -----------------------------------------------------------------------------


@pytest.fixture
def data_root(tmp_path):
    root = tmp_path / "datasets"
    (root / "mnist").mkdir(parents=True)
    (tmp_path / "private").mkdir()
    (root / "escape").symlink_to(tmp_path / "private")
    (root / "inside-link").symlink_to(root / "mnist")
    return root


def test_folders_inside_the_data_root_are_allowed_when_serving(data_root):
    assert checked_data_folder("mnist", ADMIN, data_root, serving=True) == data_root / "mnist"
    assert checked_data_folder(str(data_root / "mnist"), ADMIN, data_root, serving=True) == data_root / "mnist"
    assert checked_data_folder("inside-link", ADMIN, data_root, serving=True) == data_root / "mnist"
    assert checked_data_folder("  ", ADMIN, data_root, serving=True) is None


@pytest.mark.parametrize(
    "typed", ["../private", "mnist/../../private", "escape", "/etc", "~", "~/.ssh", "/nonexistent"]
)
def test_folders_outside_the_root_are_refused_without_saying_whether_they_exist(data_root, typed):
    with pytest.raises(AccessDenied) as refusal:
        checked_data_folder(typed, ADMIN, data_root, serving=True)
    assert str(refusal.value) == f"Only folders inside the data root ({data_root}) can be used here."


def test_without_a_root_no_folder_is_accepted_when_serving(data_root):
    with pytest.raises(AccessDenied, match="EXPLORER_DATA_ROOT"):
        checked_data_folder(str(data_root / "mnist"), ADMIN, None, serving=True)


def test_only_an_admin_changes_the_data_folder(data_root):
    with pytest.raises(AccessDenied, match="Only an admin"):
        checked_data_folder("mnist", VIEWER_A, data_root, serving=True)
    # On one's own machine the folder is anyone's choice, wherever it is.
    assert checked_data_folder("~/data", LOCAL, None, serving=False).name == "data"


def test_the_dataset_cache_stays_bounded_after_fifty_folders(tmp_path):
    loading.forget_loaded_datasets()
    folders = [tmp_path / f"folder-{i}" for i in range(50)]
    for folder in folders:
        folder.mkdir()
        loading.load_dataset("mnist", folder)  # nothing usable there: the sample is loaded and cached under it
    assert loading.loaded_count() == loading.MAX_LOADED
    newest = loading.load_dataset("mnist", folders[-1])
    assert loading.load_dataset("mnist", folders[-1]) is newest, "the most recent folders stay cached"
    loading.forget_loaded_datasets()


# --- every state-changing action is checked in core -----------------------------------------------


@pytest.fixture
def store_with_run(tmp_path):
    store = RunStore(tmp_path / "runs")
    run_id = store.save(factories.make_training_result(), "test data", owner=VIEWER_A.owner)
    return store, run_id


def test_a_run_remembers_who_trained_it(store_with_run):
    store, run_id = store_with_run
    assert store.get(run_id).owner == VIEWER_A.owner
    assert RunStore(store.root).list_runs()[0].owner == VIEWER_A.owner, "kept in the folder, not only the index"


def test_action_rename_and_tag_need_an_admin(store_with_run):
    store, run_id = store_with_run
    for viewer in (VIEWER_A, VIEWER_B):  # even one's own run: names and tags are what everyone reads
        with pytest.raises(AccessDenied):
            store.rename(run_id, "mine now", by=viewer)
        with pytest.raises(AccessDenied):
            store.set_tags(run_id, ["best"], by=viewer)
    assert store.get(run_id).name == "" and store.get(run_id).tags == ()
    store.rename(run_id, "baseline", by=ADMIN)
    assert store.get(run_id).name == "baseline"


def test_action_delete_needs_an_admin(store_with_run):
    store, run_id = store_with_run
    with pytest.raises(AccessDenied):
        store.delete(run_id, by=VIEWER_B)
    assert (store.root / run_id / "model.keras").is_file() and store.get(run_id).complete
    store.delete(run_id, by=ADMIN)
    assert store.list_runs() == []


def test_action_export_needs_an_admin(store_with_run):
    from core.export import export_run

    store, run_id = store_with_run
    with pytest.raises(AccessDenied):
        export_run(store, run_id, factories.tiny_mnist(10, 20), by=VIEWER_A)
    assert not (store.root / run_id / "exports").exists()


@pytest.fixture
def busy_scheduler():
    """A scheduler whose one slot an admin's paused job holds, so whatever is submitted next waits."""
    from core.training import TrainingScheduler

    scheduler = TrainingScheduler(max_concurrent=1, max_queue=2)
    holder = new_job()
    scheduler.submit(holder, by=ADMIN)
    holder.pause(by=ADMIN)
    yield scheduler
    for job in [*scheduler.queued(), *scheduler.running()]:
        job.stop(by=ADMIN)
    assert holder.wait(120), "the paused job ends once stopped"


def new_job():
    from core.architectures import ModelSpec
    from core.training import TrainConfig, TrainingJob

    data = factories.tiny_mnist(64, 32)
    return TrainingJob(data, ModelSpec("softmax", batch_norm=False), TrainConfig(dataset="mnist", epochs=50))


def test_action_train_one_waiting_or_running_job_per_viewer_session(busy_scheduler):
    from core.training.scheduler import QueueFull

    mine = busy_scheduler.submit(new_job(), by=VIEWER_A)
    assert mine.owner == VIEWER_A.owner and busy_scheduler.queued() == [mine]
    with pytest.raises(QueueFull, match="already have a run"):
        busy_scheduler.submit(new_job(), by=VIEWER_A)
    mine.stop(by=VIEWER_A)
    assert busy_scheduler.queued() == []
    busy_scheduler.submit(new_job(), by=VIEWER_A)  # once it has left the queue, another may wait


def test_action_train_the_queue_has_a_cap_for_everyone(busy_scheduler):
    from core.training.scheduler import QueueFull

    busy_scheduler.submit(new_job(), by=VIEWER_A)
    busy_scheduler.submit(new_job(), by=VIEWER_B)
    with pytest.raises(QueueFull, match=r"queue is full \(2 runs waiting\)"):
        busy_scheduler.submit(new_job(), by=ADMIN)
    assert len(busy_scheduler.queued()) == 2


def test_action_control_a_viewer_stops_pauses_or_changes_only_its_own_job(busy_scheduler):
    from core.training import JobState

    theirs = busy_scheduler.submit(new_job(), by=VIEWER_A)
    controls = {
        "stop": lambda by: theirs.stop(by=by),
        "pause": lambda by: theirs.pause(by=by),
        "resume": lambda by: theirs.resume(by=by),
        "dropout": lambda by: theirs.set_dropout(0.5, by=by),
        "learning rate": lambda by: theirs.set_learning_rate(0.1, by=by),
        "epochs": lambda by: theirs.set_epochs(200, by=by),
    }
    for name, control in controls.items():
        with pytest.raises(AccessDenied, match="only stop, pause, resume or change a training run you started"):
            control(VIEWER_B)
        assert theirs.state is JobState.QUEUED and busy_scheduler.queued() == [theirs], name
    theirs.set_epochs(2, by=VIEWER_A)  # its owner may
    theirs.stop(by=ADMIN)  # an admin may stop anyone's
    assert theirs.wait(5) and theirs.state is JobState.STOPPED


def test_action_train_a_pair_of_jobs_from_one_request_goes_in_together_or_not_at_all(busy_scheduler):
    from core.training.scheduler import QueueFull

    pair = busy_scheduler.submit_together([new_job(), new_job()], by=VIEWER_A)
    assert busy_scheduler.queued() == pair and {job.owner for job in pair} == {VIEWER_A.owner}
    with pytest.raises(QueueFull, match="queue is full"):
        busy_scheduler.submit_together([new_job(), new_job()], by=ADMIN)  # the pair filled the queue
    assert busy_scheduler.queued() == pair, "a refused pair leaves nothing half-queued"
