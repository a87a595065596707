//! `#[derive(Tree)]`: a struct whose fields are pytrees becomes a pytree,
//! leaves in field order, each named by its field path (`layers.0.w`, for
//! checkpoints). A field marked `#[tree(skip)]` is static data (cloned,
//! never differentiated or batched).
//!
//! The impl names the `oxjax` crate; code that depends on the engine
//! `oxjax-core` alone says so with `#[tree(crate = oxjax_core)]` on the
//! struct (as serde's `#[serde(crate = "...")]`).

use proc_macro::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields, Index, parse_macro_input};

#[proc_macro_derive(Tree, attributes(tree))]
pub fn derive_tree(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    let name = &input.ident;
    let Data::Struct(data) = &input.data else {
        return syn::Error::new_spanned(&input.ident, "#[derive(Tree)] supports structs only")
            .to_compile_error()
            .into();
    };
    let skip = |attrs: &[syn::Attribute]| {
        attrs.iter().any(|a| {
            a.path().is_ident("tree") && a.parse_args::<syn::Ident>().is_ok_and(|i| i == "skip")
        })
    };
    // `#[tree(crate = path)]` on the struct: where `Tree` and `Array` live.
    let mut krate: syn::Path = syn::parse_quote!(::oxjax);
    for a in input.attrs.iter().filter(|a| a.path().is_ident("tree")) {
        let parsed = a.parse_nested_meta(|m| {
            if m.path.is_ident("crate") {
                krate = m.value()?.parse()?;
                Ok(())
            } else {
                Err(m.error("expected `crate = path`"))
            }
        });
        if let Err(e) = parsed {
            return e.to_compile_error().into();
        }
    }
    let path = |key: String| {
        quote! { &#krate::tree::join(prefix, #key) }
    };
    let (flatten, unflatten, paths) = match &data.fields {
        Fields::Named(fields) => {
            let (mut fl, mut un, mut pa) = (Vec::new(), Vec::new(), Vec::new());
            for f in &fields.named {
                let id = f.ident.as_ref().unwrap();
                if skip(&f.attrs) {
                    un.push(quote! { #id: ::std::clone::Clone::clone(&self.#id) });
                } else {
                    let p = path(id.to_string().trim_start_matches("r#").to_string());
                    fl.push(quote! { #krate::Tree::flatten_into(&self.#id, leaves); });
                    un.push(quote! { #id: #krate::Tree::unflatten_from(&self.#id, leaves) });
                    pa.push(quote! { #krate::Tree::paths_into(&self.#id, #p, paths); });
                }
            }
            (
                quote! { #(#fl)* },
                quote! { #name { #(#un),* } },
                quote! { #(#pa)* },
            )
        }
        Fields::Unnamed(fields) => {
            let (mut fl, mut un, mut pa) = (Vec::new(), Vec::new(), Vec::new());
            for (i, f) in fields.unnamed.iter().enumerate() {
                let idx = Index::from(i);
                if skip(&f.attrs) {
                    un.push(quote! { ::std::clone::Clone::clone(&self.#idx) });
                } else {
                    let p = path(i.to_string());
                    fl.push(quote! { #krate::Tree::flatten_into(&self.#idx, leaves); });
                    un.push(quote! { #krate::Tree::unflatten_from(&self.#idx, leaves) });
                    pa.push(quote! { #krate::Tree::paths_into(&self.#idx, #p, paths); });
                }
            }
            (
                quote! { #(#fl)* },
                quote! { #name ( #(#un),* ) },
                quote! { #(#pa)* },
            )
        }
        Fields::Unit => (quote! {}, quote! { #name }, quote! {}),
    };
    let (impl_g, ty_g, where_g) = input.generics.split_for_impl();
    quote! {
        impl #impl_g #krate::Tree for #name #ty_g #where_g {
            fn flatten_into(&self, leaves: &mut ::std::vec::Vec<#krate::Array>) {
                #flatten
            }
            fn unflatten_from(&self, leaves: &mut dyn ::std::iter::Iterator<Item = #krate::Array>) -> Self {
                #unflatten
            }
            fn paths_into(&self, prefix: &str, paths: &mut ::std::vec::Vec<::std::string::String>) {
                let _ = (prefix, &paths);
                #paths
            }
        }
    }
    .into()
}
