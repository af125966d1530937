"""The services layer is composed, not assembled from mixins, and its modules import one another without circles."""

import grimp

from virtualobserver.services.products import Products
from virtualobserver.services.project import Project

SERVICES = "virtualobserver.services."


def test_no_services_module_imports_another_in_a_circle():
    graph = grimp.build_graph("virtualobserver")
    modules = {m for m in graph.modules if m.startswith(SERVICES)}
    circles = []
    for importer in sorted(modules):
        for imported in graph.find_modules_directly_imported_by(importer):
            if imported in modules and imported != importer:
                back = graph.find_shortest_chain(importer=imported, imported=importer)
                if back is not None and all(m in modules for m in back):
                    circles.append((importer, *back))
    assert circles == []


def test_project_and_products_have_no_base_classes():
    assert Project.__bases__ == (object,)
    assert Products.__bases__ == (object,)
