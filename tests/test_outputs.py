"""The atomic writer and the output check against what may stand at an output path: a FIFO,
a character device, a socket, a symbolic link (to a file, to nothing, through /proc)."""
import os
import socket
import stat
import threading

import pytest

from shopbench import data


def _listing(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_fifo_is_written_to_as_a_stream_and_stays_a_fifo(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    assert data.writable_problem(fifo) is None
    data.write_atomically(fifo, "streamed\n")
    reader.join(timeout=30)
    assert received == [b"streamed\n"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and _listing(tmp_path) == ["pipe"]  # nothing beside it


def test_a_symlink_stays_and_its_target_is_rewritten_in_its_folder(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "results.json"
    target.write_text("old\n")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert data.writable_problem(link) is None
    data.write_atomically(link, "new\n")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "new\n" and _listing(tmp_path / "real") == ["results.json"]
    assert _listing(tmp_path) == ["link.json", "real"]


def test_a_dangling_symlink_gets_its_target_written(tmp_path):
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "later.json")
    data.write_atomically(link, "x\n")
    assert link.is_symlink() and (tmp_path / "later.json").read_text() == "x\n"


def test_a_chain_of_symlinks_is_followed_to_the_file(tmp_path):
    target = tmp_path / "file.json"
    target.write_text("a")
    (tmp_path / "one").symlink_to(target)
    (tmp_path / "two").symlink_to(tmp_path / "one")
    data.write_atomically(tmp_path / "two", "b")
    assert (tmp_path / "one").is_symlink() and (tmp_path / "two").is_symlink() and target.read_text() == "b"


def test_dev_null_is_written_to_not_replaced():
    before = os.stat("/dev/null")
    assert data.writable_problem("/dev/null") is None
    data.write_atomically("/dev/null", "discarded\n")
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


@pytest.mark.skipif(os.geteuid() != 0, reason="os.mknod of a character device needs root")
def test_a_character_device_made_in_a_temporary_folder_is_written_to_not_replaced(tmp_path):
    null = os.stat("/dev/null")
    device = tmp_path / "null"
    os.mknod(device, stat.S_IFCHR | 0o666, null.st_rdev)
    assert data.writable_problem(device) is None
    data.write_atomically(device, "into the device\n")
    assert stat.S_ISCHR(os.lstat(device).st_mode) and os.lstat(device).st_rdev == null.st_rdev
    assert _listing(tmp_path) == ["null"]


def test_a_socket_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "s.sock"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(path))
        assert data.writable_problem(path) == "is a socket; give a file name"
        with pytest.raises(OSError, match="is a socket"):
            data.write_atomically(path, "x")
        assert stat.S_ISSOCK(os.lstat(path).st_mode) and _listing(tmp_path) == ["s.sock"]
    finally:
        server.close()


def test_standard_output_through_proc_is_streamed(tmp_path):
    """/dev/stdout is a link through /proc to whatever descriptor 1 is: written to, never replaced."""
    out = tmp_path / "captured"
    pid = os.fork()
    if pid == 0:  # the child writes to its /dev/stdout, redirected to a file
        try:
            descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            os.dup2(descriptor, 1)
            os.write(1, b"before\n")
            data.write_atomically("/dev/stdout", "through the link\n")
            os.write(1, b"after\n")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert out.read_text() == "before\nthrough the link\nafter\n"


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_checking_a_special_output_leaves_nothing_beside_it(tmp_path, kind):
    path = tmp_path / "special"
    if kind == "fifo":
        os.mkfifo(path)
    elif os.geteuid() == 0:
        os.mknod(path, stat.S_IFCHR | 0o666, os.stat("/dev/null").st_rdev)
    else:
        pytest.skip("os.mknod of a character device needs root")
    for _ in range(3):
        assert data.writable_problem(path) is None
    assert _listing(tmp_path) == ["special"]


def test_an_unwritable_special_file_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "pipe"
    os.mkfifo(path, 0o444)
    # root may write to any FIFO whatever its mode, so the permission is what os.access says
    monkeypatch.setattr(os, "access", lambda where, mode: not (str(where) == str(path) and mode & os.W_OK))
    assert data.writable_problem(path) == "cannot be written (permission denied)"
