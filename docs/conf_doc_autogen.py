"""Settings of hdmf-docutils' ``hdmf_generate_format_docs`` (read by ``conf.py``), as in ndx-template."""

import pynwb
from pynwb.spec import NWBDatasetSpec, NWBGroupSpec, NWBNamespace

spec_input_spec_dir = "../spec"
spec_input_namespace_filename = "ndx-causal-emergence.namespace.yaml"
spec_input_default_namespace = "ndx-causal-emergence"
spec_output_dir = "_format_auto_docs"  # the name hdmf-docutils links its figures with
spec_output_master_filename = "format_spec_main.inc"
spec_output_doc_filename = "format_spec_doc.inc"
spec_output_src_filename = "format_spec_sources.inc"
spec_output_doc_type_hierarchy_filename = "format_spec_type_hierarchy.inc"
spec_clean_output_dir_if_old_git_hash = False  # conf.py empties the folder; no git needed
spec_skip_doc_autogen_if_current_git_hash = False
spec_show_yaml_src = True
spec_generate_src_file = True
spec_show_hierarchy_plots = True
spec_file_per_type = True
spec_show_subgroups_in_seperate_table = True  # codespell:ignore seperate
spec_appreviate_main_object_doc_in_tables = True
spec_show_title_for_tables = True
spec_table_depth_char = "."
spec_add_latex_clearpage_after_ndt_sections = True
spec_resolve_type_inc = False
spec_default_type_map = pynwb.get_type_map()  # the core namespace the extension builds on
spec_group_spec_cls = NWBGroupSpec
spec_dataset_spec_cls = NWBDatasetSpec
spec_namespace_spec_cls = NWBNamespace
