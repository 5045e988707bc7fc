"""Git worktrees: a ticket with `isolation = "worktree"` works in a checkout and on a branch of its own.

- `git`: runs `git`, bounded in time and output, in a clean environment, its errors inert (`GitError`);
- `confined`: how lfg's git reads a ticket's worktree: the shared git folder, lfg's own index, no filter;
- `tree`: a ticket's worktree made, recorded and measured (`create_worktree`, `diff_stat`, `diff_text`);
- `patch`: a diff split file by file, every file listed, one too big (or a repository) marked not shown;
- `cleanup`: the worktrees runs left, listed and removed without losing work;
- `land`: a ticket's change brought onto the branch its worktree was made from, or pushed as a pull
  request, without touching the person's checkout (`land`, for `lfg land`, `M` and tournaments);
- `diff_watch`: the diff size kept current in the events while a ticket works (`DiffWatch`);
- `size`: `diff_size`, how much a ticket changed as people read it.

Importing the package imports none of them: the listings and the history's export take `size` alone.
The `lfg worktrees` command is `commands/worktrees.py`, `lfg land` is `commands/land.py`.
"""
