#!/usr/bin/perl
# The end-to-end harness's reader, two modes:
#
#   report.pl stream OUTDIR [VERBOSE]
#       reads QEMU's serial console on stdin; writes OUTDIR/console.log (timestamped),
#       prints progress for humans (E2E-PROGRESS lines, failed checks, Xen panics),
#       and stores every intact E2E-RESULT line in OUTDIR/results/NAME.json.
#
#   report.pl summary OUTDIR KEY=VALUE...
#       prints the summary table, writes OUTDIR/summary.json and prints it as the
#       LAST line of output; exits 0 only if every requested case ran and none failed.
#       Keys: cases (comma list), elapsed_s, build_s, qemu_rc, timeout_s, daemon.
use strict;
use warnings;
use JSON::PP;
use Digest::MD5 qw(md5_hex);
use Time::HiRes qw(time);

my ($mode, $out, @rest) = @ARGV;
die "usage: report.pl stream|summary OUTDIR ...\n" unless $mode && $out;
$| = 1;

if ($mode eq 'stream') {
    my $verbose = $rest[0] // 0;
    my $t0 = $ENV{E2E_T0} // time;
    mkdir "$out/results";
    open(my $log, '>', "$out/console.log") or die "$out/console.log: $!";
    $log->autoflush(1);
    my %seen;
    my $boot_said = 0;
    while (my $line = <STDIN>) {
        $line =~ s/\r//g;
        chomp $line;
        my $t = time - $t0;
        printf $log "[%7.2f] %s\n", $t, $line;
        my $say = sub { printf "[%6.1fs] %s\n", $t, $_[0] };
        if ($verbose) { $say->($line); }
        if ($line =~ /^E2E-RESULT (\S+) ([0-9a-f]{32}) (\d+) (.*)$/) {
            my ($name, $sum, $len, $json) = ($1, $2, $3, $4);
            next if $seen{$name};
            if (md5_hex($json) eq $sum) {
                $seen{$name} = 1;
                open(my $f, '>', "$out/results/$name.json") or die;
                print $f "$json\n";
                close $f;
            } else {
                print $log "# report.pl: garbled result line for $name (checksum mismatch)\n";
            }
            next;
        }
        next if $verbose;
        if ($line =~ /^E2E-PROGRESS (.*)/) {
            $say->($1);
        } elsif ($line =~ /check (\S+): FAILED(.*)/) {
            $say->("  check $1 FAILED$2");
        } elsif (!$boot_said && $line =~ /Xen version (\S+)/) {
            $say->("Xen $1 booting");
            $boot_said = 1;
        } elsif ($line =~ /(Panic on CPU|FATAL TRAP|Kernel panic|GENERAL PROTECTION FAULT|\(XEN\) \*\*\*\*)/) {
            $say->("!! $line");
        } elsif ($line =~ /^\(XEN\) .*(crashed|domain_crash)/i) {
            $say->("!! $line");
        }
    }
    close $log;
    exit 0;
}

die "unknown mode $mode\n" unless $mode eq 'summary';
my %kv = map { /^([^=]+)=(.*)$/ ? ($1, $2) : () } @rest;
my @cases = grep { length } split /[, ]+/, ($kv{cases} // '');
my $json = JSON::PP->new->canonical(1);

sub load {
    my $p = "$out/results/$_[0].json";
    return undef unless -s $p;
    open(my $f, '<', $p) or return undef;
    local $/;
    my $j = eval { decode_json(<$f>) };
    return $j;
}
sub num { my $v = shift; return defined $v && $v =~ /^-?[0-9.]+(e[-+]?\d+)?$/i ? $v + 0 : $v; }

my $env = load('env') // {};
my (%cases, @failures, %leaks);
my ($npass, $nfail, $nskip) = (0, 0, 0);
my $qemu_rc = $kv{qemu_rc} // 0;
my $timed_out = ($qemu_rc == 124 || $qemu_rc == 137);
for my $c (@cases) {
    my $r = load($c);
    unless ($r) {
        my $why = $timed_out ? "no result: global timeout ($kv{timeout_s}s) hit"
                : $qemu_rc ? "no result: QEMU exited $qemu_rc"
                : "no result printed by dom0";
        $r = { name => $c, status => 'fail', reason => $why };
    }
    my $s = $r->{status} // 'fail';
    $s eq 'pass' ? $npass++ : $s eq 'skip' ? $nskip++ : $nfail++;
    push @failures, "$c: " . ($r->{reason} // 'failed') if $s ne 'pass' && $s ne 'skip';
    my %brief = (status => $s, elapsed_s => num($r->{elapsed_s}));
    $brief{reason} = $r->{reason} if defined $r->{reason} && length $r->{reason};
    for my $k (qw(guest_s domid linux_probe linux_probe_reason hvmloader_bar0)) {
        $brief{$k} = $r->{$k} if defined $r->{$k};
    }
    if (my $g = $r->{guest}) {
        $brief{guest} = { map { defined $g->{$_} ? ($_ => $g->{$_}) : () }
            qw(ok bar0 bar0_size bytes_written bytes_read integrity_errors threads_s threads_mib_s kernel_found error) };
    }
    if (my $d = $r->{daemon}) {
        $brief{daemon} = { map { defined $d->{$_} ? ($_ => $d->{$_}) : () } qw(ready_s exit) };
    }
    if (my $ch = $r->{checks}) {
        $brief{checks_failed} = [ sort grep { !$ch->{$_}{ok} } keys %$ch ];
        $brief{checks_passed} = scalar grep { $ch->{$_}{ok} } keys %$ch;
    }
    $leaks{$c} = $r->{leaks} if $r->{leaks};
    $cases{$c} = { %brief, full => $r };
}

# Headline figures from the main case (hvm-basic), else the first case that has them.
my ($main) = grep { $cases{$_} && $cases{$_}{full}{guest} } ('hvm-basic', @cases);
my %ioreqs = $main && $cases{$main}{full}{ioreqs} ? %{ $cases{$main}{full}{ioreqs} } : ();
my %dm = $main && $cases{$main}{full}{dm} ? %{ $cases{$main}{full}{dm} } : ();
my %guest = $main ? %{ $cases{$main}{guest} // {} } : ();
$guest{case} = $main if $main;

# The lending cases' figures (lend-mm and lend-copy record a `lend` object): counts
# summed, Xen's lent entries left as the worst case, timings from the case that measured
# them (null: not measured in this run). Absent when no lending case ran.
my %lend;
for my $c (grep { $cases{$_} && ref $cases{$_}{full}{lend} eq 'HASH' } @cases) {
    my $l = $cases{$c}{full}{lend};
    for my $k (qw(access emulated_bytes invalidated_pages frames_changed integrity_errors stale_reads)) {
        $lend{$k} += $l->{$k} // 0;
    }
    my $left = $l->{lent_entries_left};
    $lend{lent_entries_left} = $left
        if defined $left && (!defined $lend{lent_entries_left} || $left > $lend{lent_entries_left});
    for my $k (qw(access_us_p50 access_us_p99 emulated_read_us_p50 qemu_read_us_p50 uffd_us_p50 lend_vs_emulate)) {
        $lend{$k} //= $l->{$k} if defined $l->{$k};
    }
}
if (%lend) {
    # Every lending case that passed, whether it records figures or only checks.
    $lend{cases_passed} = scalar grep { /^(lend-|xen-lend|fidelity-lend)/ && $cases{$_} && $cases{$_}{status} eq 'pass' } @cases;
    $lend{xen_version} = $env->{xen_version};
    for my $k (qw(access_us_p50 access_us_p99 emulated_read_us_p50 qemu_read_us_p50 uffd_us_p50 lend_vs_emulate
                  lent_entries_left)) {
        $lend{$k} //= undef;
    }
}

unshift @failures, "harness: $kv{error}" if $kv{error};
my $ok = ($nfail == 0 && $npass > 0 && !$kv{error}) ? JSON::PP::true : JSON::PP::false;
my %summary = (
    ok => $ok,
    failures => \@failures,
    elapsed_s => num($kv{elapsed_s}),
    build_s => num($kv{build_s}),
    qemu => { rc => num($qemu_rc), timed_out => $timed_out ? JSON::PP::true : JSON::PP::false },
    counts => { pass => $npass, fail => $nfail, skip => $nskip },
    cases => { map { my %b = %{ $cases{$_} }; delete $b{full}; ($_ => \%b) } keys %cases },
    ioreqs => \%ioreqs,
    dm => \%dm,
    guest => \%guest,
    leaks => \%leaks,
    xen => { (map { defined $env->{$_} ? ($_ => $env->{$_}) : () } qw(xen_version virt_caps dom0_init_uptime_s infra_error)),
             (defined $kv{xen_flavour} ? (flavour => $kv{xen_flavour}) : ()) },
    daemon => $env->{daemon} // $kv{daemon} // 'unknown',
);
$summary{lend} = \%lend if %lend;
$summary{error} = $kv{error} if $kv{error};

# Human-readable table.
print "\n==== e2e-xen summary ====\n";
printf "%-22s %-5s %8s  %s\n", 'case', 'result', 'time', 'details';
for my $c (@cases) {
    my $b = $cases{$c};
    my $d = '';
    if ($b->{guest}) {
        my $g = $b->{guest};
        $d .= sprintf("bar0=%s ", $g->{bar0}) if $g->{bar0};
        $d .= sprintf("moved=%.1fMiB errors=%s ", (($g->{bytes_written} // 0) + ($g->{bytes_read} // 0)) / 1048576,
            $g->{integrity_errors} // '?') if defined $g->{bytes_written};
    }
    $d .= "reason: $b->{reason}" if $b->{reason};
    printf "%-22s %-5s %7ss  %s\n", $c, uc($b->{status}), $b->{elapsed_s} // '-', $d;
}
printf "total %ss (images %ss), %d passed, %d failed, %d skipped\n",
    $kv{elapsed_s} // '?', $kv{build_s} // '?', $npass, $nfail, $nskip;

open(my $f, '>', "$out/summary.json") or die;
print $f $json->pretty->encode(\%summary);
close $f;
# Full per-case results next to it, for debugging.
open($f, '>', "$out/results.json") or die;
print $f $json->pretty->encode({ env => $env, cases => { map { ($_ => $cases{$_}{full}) } keys %cases } });
close $f;
print JSON::PP->new->canonical(1)->encode(\%summary), "\n";
exit($ok ? 0 : 1);
