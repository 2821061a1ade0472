/**
 * What a step may not do: mount, create namespaces, set the hostname, administer the network or
 * write kernel settings; and what it may (chown, as Docker's default capabilities allow). Checked
 * by trying from inside, plus the process's own view of its capabilities and seccomp filter.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { executorFixture, type ExecutorFixture } from './executor-support.js';

/** Docker's default capability set as a mask (CHOWN ... SETFCAP): what `docker run` shows in CapEff. */
const DOCKER_DEFAULT_CAPS = '00000000a80425fb';

describe('runc executor: sandbox', () => {
  let fx: ExecutorFixture;
  before(async () => {
    fx = await executorFixture();
  });
  after(async () => {
    await fx?.close();
  });

  test("root in a step has Docker's default capabilities, no new privileges, a seccomp filter and its own PID 1", async () => {
    const r = await fx.run('grep -E "^(CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status | tr -s "\\t" " "; echo "pid $$"');
    assert.equal(r.stdout, `CapEff: ${DOCKER_DEFAULT_CAPS}\nCapBnd: ${DOCKER_DEFAULT_CAPS}\nNoNewPrivs: 1\nSeccomp: 2\npid 1\n`, r.stderr);
    const user = await fx.run('grep -E "^CapEff:" /proc/self/status | tr -s "\\t" " "', { user: 'builder' });
    assert.equal(user.stdout, 'CapEff: 0000000000000000\n');
  });

  test('chown works (CAP_CHOWN); mount, unshare, sethostname and network administration fail', async () => {
    const r = await fx.run(
      [
        'touch /tmp/f && chown 1000:50 /tmp/f && stat -c "chown %u %g" /tmp/f',
        'mkdir /mnt; mount -t tmpfs none /mnt 2>/dev/null; echo "mount $?"',
        'unshare -n true 2>/dev/null; echo "unshare $?"',
        'hostname evil 2>/dev/null; echo "hostname $? $(hostname)"',
        'ip link add d0 type dummy 2>/dev/null; echo "ip-link $?"',
      ].join('; '),
    );
    assert.equal(r.stdout, 'chown 1000 50\nmount 1\nunshare 1\nhostname 1 cairn-test\nip-link 2\n', r.stderr);
  });

  test('kernel settings are read-only and sensitive /proc files are masked', async () => {
    const r = await fx.run(
      [
        'echo 1 > /proc/sys/vm/drop_caches 2>/dev/null; echo "proc-sys $?"',
        'echo evil > /proc/sys/kernel/hostname 2>/dev/null; echo "hostname $?"',
        // Masked (bind-mounted /dev/null): the host's timers and keys are not the step's business.
        'echo "timer_list $(cat /proc/timer_list | wc -c) keys $(cat /proc/keys | wc -c)"',
        'touch /sys/x 2>/dev/null; echo "sys $?"',
      ].join('; '),
    );
    assert.equal(r.stdout.replace(/ +/g, ' '), 'proc-sys 1\nhostname 1\ntimer_list 0 keys 0\nsys 1\n', r.stderr);
  });

  test('a step cannot see host processes or the host network', async () => {
    const r = await fx.run('ls /proc | grep -c "^[0-9]"; ip -o link | wc -l');
    // sh, ls, grep, and the pipeline's other processes at most: none of the host's.
    const [processes, links] = r.stdout.trim().split('\n').map((n) => Number(n.trim()));
    assert.ok(processes! < 10, `${processes} processes visible`);
    assert.equal(links, 1, 'only lo');
  });
});
