"""Telling the person when a run needs them: a ticket waits for approval, fails, or the run ends.

- `states`: `Attentions`, the one state machine of each ticket's attention state (working, needs
  approval, asked?, unread, done, stalled, failed, cancelled, waiting), from the run's events;
- `moments`: `RunAlerts`, the sink that sees those moments in the run's events;
- `attention`: `Attention`, one moment as the person reads it, and `printable`, which makes its
  untrusted text safe for an escape sequence or a hook;
- `terminal`: the bell and the terminal's own notifications (OSC 9 and 777, through tmux);
- `notify`: `NotifyCommand`, the user's `--notify-command` run for each moment.

Importing the package imports none of them.
"""
