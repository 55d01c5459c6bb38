"""Sphinx configuration of the course book (built by tools/build_book.py; see CONTRIBUTING.md).

The source folder is staged by tools/build_book.py: ``index.md`` generated from README.md and the
chapters' questions, the notebooks under ``chapters/``. myst-nb renders each notebook with the
outputs it carries and never executes it; sphinx-book-theme gives the sidebar of chapters,
previous/next links and search.
"""

project = "zfkeras"
author = "the zfkeras authors"
copyright = "the zfkeras authors"
html_title = "zfkeras: Visualizing and Understanding Convolutional Networks"

extensions = ["myst_nb"]
nb_execution_mode = "off"  # the chapters are executed by tools/render.py, or stored executed
nb_merge_streams = True  # one block per cell for what a cell prints, not one per flush
nb_render_markdown_format = "myst"  # the chapters' Markdown outputs (findings tables) as tables
exclude_patterns = ["**.ipynb_checkpoints"]

html_theme = "sphinx_book_theme"
html_theme_options = {
    "home_page_in_toc": True,  # the index (README and questions) heads the sidebar
    "show_toc_level": 2,
    "use_download_button": False,  # the sources are not copied (html_copy_source)
}
html_show_sourcelink = False
html_copy_source = False
html_last_updated_fmt = None
