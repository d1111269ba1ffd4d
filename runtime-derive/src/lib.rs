//! `#[derive(Sps)]` for orc-rt: gives a struct the SPS encoding of the tuple
//! of its fields, in declaration order (`SpsEncode` and `SpsDecode<'de>`).
//! Use it through `orc_rt::sps::Sps`; the generated code names
//! `::orc_rt::sps` unless `#[sps(crate = "path::to::sps")]` says otherwise.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::{
    Data, DeriveInput, Fields, GenericParam, Generics, Index, Lifetime, LifetimeParam, Path,
    parse_macro_input, parse_quote,
};

/// Derives `SpsEncode` and `SpsDecode<'de>` for a struct (named, tuple or
/// unit): the fields are encoded back to back, exactly as the tuple of
/// their types. A struct with one lifetime parameter decodes borrowing
/// from the input for that lifetime; type parameters get `SpsEncode` /
/// `SpsDecode<'de>` bounds.
#[proc_macro_derive(Sps, attributes(sps))]
pub fn derive_sps(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(input) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.to_compile_error().into(),
    }
}

fn expand(input: DeriveInput) -> syn::Result<TokenStream2> {
    let krate = crate_path(&input)?;
    let fields = match &input.data {
        Data::Struct(data) => &data.fields,
        Data::Enum(e) => {
            return Err(syn::Error::new(
                e.enum_token.span,
                "#[derive(Sps)] supports structs only: SPS has no tagged unions",
            ));
        }
        Data::Union(u) => {
            return Err(syn::Error::new(
                u.union_token.span,
                "#[derive(Sps)] supports structs only",
            ));
        }
    };

    let name = &input.ident;
    let types: Vec<_> = fields.iter().map(|f| &f.ty).collect();
    // How to reach each field (`self.name` / `self.0`) and, for decoding,
    // how to build the struct back.
    let accessors: Vec<TokenStream2> = match fields {
        Fields::Named(named) => named
            .named
            .iter()
            .map(|f| {
                let id = f.ident.as_ref().expect("named field");
                quote!(#id)
            })
            .collect(),
        Fields::Unnamed(unnamed) => (0..unnamed.unnamed.len())
            .map(|i| {
                let idx = Index::from(i);
                quote!(#idx)
            })
            .collect(),
        Fields::Unit => Vec::new(),
    };
    let locals: Vec<_> = (0..types.len())
        .map(|i| format_ident!("__f{}", i))
        .collect();
    let construct = match fields {
        Fields::Named(_) => quote!(#name { #(#accessors: #locals),* }),
        Fields::Unnamed(_) => quote!(#name ( #(#locals),* )),
        Fields::Unit => quote!(#name),
    };

    let encode_impl = expand_encode(&krate, name, &input.generics, &types, &accessors);
    let decode_impl = expand_decode(&krate, name, &input.generics, &types, &locals, &construct)?;
    Ok(quote! {
        #encode_impl
        #decode_impl
    })
}

/// `#[sps(crate = "path")]`, default `::orc_rt::sps`.
fn crate_path(input: &DeriveInput) -> syn::Result<Path> {
    let mut path: Path = parse_quote!(::orc_rt::sps);
    for attr in &input.attrs {
        if !attr.path().is_ident("sps") {
            continue;
        }
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                let lit: syn::LitStr = meta.value()?.parse()?;
                path = lit.parse()?;
                Ok(())
            } else {
                Err(meta.error("unknown sps attribute; expected `crate = \"path\"`"))
            }
        })?;
    }
    Ok(path)
}

fn expand_encode(
    krate: &Path,
    name: &syn::Ident,
    generics: &Generics,
    types: &[&syn::Type],
    accessors: &[TokenStream2],
) -> TokenStream2 {
    let mut generics = generics.clone();
    for param in generics.type_params_mut() {
        param.bounds.push(parse_quote!(#krate::SpsEncode));
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let body = if types.is_empty() {
        // SPSEmpty: nothing to write.
        quote! {
            let _ = w;
            ::core::result::Result::Ok(())
        }
    } else {
        quote! {
            match <Self as #krate::SpsEncode>::FIXED_SIZE {
                // One bounds check for the whole struct.
                ::core::option::Option::Some(n) => {
                    let mut sub = w.fixed(n)?;
                    #(#krate::SpsEncode::encode(&self.#accessors, &mut sub)?;)*
                    sub.end_fixed()
                }
                ::core::option::Option::None => {
                    #(#krate::SpsEncode::encode(&self.#accessors, w)?;)*
                    ::core::result::Result::Ok(())
                }
            }
        }
    };
    quote! {
        #[automatically_derived]
        impl #impl_generics #krate::SpsEncode for #name #ty_generics #where_clause {
            const FIXED_SIZE: ::core::option::Option<usize> = #krate::__private::fixed_sum(
                &[#(<#types as #krate::SpsEncode>::FIXED_SIZE),*]
            );

            #[inline(always)]
            fn encoded_size(&self) -> usize {
                if let ::core::option::Option::Some(n) =
                    <Self as #krate::SpsEncode>::FIXED_SIZE
                {
                    return n;
                }
                0 #(+ #krate::SpsEncode::encoded_size(&self.#accessors))*
            }

            #[inline(always)]
            fn encode(
                &self,
                w: &mut #krate::Writer<'_>,
            ) -> ::core::result::Result<(), #krate::EncodeError> {
                #body
            }
        }
    }
}

fn expand_decode(
    krate: &Path,
    name: &syn::Ident,
    generics: &Generics,
    types: &[&syn::Type],
    locals: &[syn::Ident],
    construct: &TokenStream2,
) -> syn::Result<TokenStream2> {
    let (_, ty_generics, _) = generics.split_for_impl();
    let lifetimes: Vec<Lifetime> = generics.lifetimes().map(|l| l.lifetime.clone()).collect();

    // The input lifetime: the struct's own lifetime if it has exactly one
    // (so `&'a str` fields borrow from the input), else a fresh `'de` that
    // outlives all of them.
    let mut impl_generics_src = generics.clone();
    let de: Lifetime = if lifetimes.len() == 1 {
        lifetimes[0].clone()
    } else {
        let de = Lifetime::new("'__de", Span::call_site());
        let mut param = LifetimeParam::new(de.clone());
        param.bounds.extend(lifetimes.iter().cloned());
        impl_generics_src
            .params
            .insert(0, GenericParam::Lifetime(param));
        de
    };
    for param in impl_generics_src.type_params_mut() {
        param.bounds.push(parse_quote!(#krate::SpsDecode<#de>));
    }
    let (impl_generics, _, where_clause) = impl_generics_src.split_for_impl();

    let body = if types.is_empty() {
        // SPSEmpty: nothing to read.
        quote! {
            let _ = r;
            ::core::result::Result::Ok(#construct)
        }
    } else {
        quote! {
            match <Self as #krate::SpsDecode<#de>>::FIXED_SIZE {
                // One bounds check for the whole struct.
                ::core::option::Option::Some(n) => {
                    let mut sub = r.fixed(n)?;
                    #(let #locals = <#types as #krate::SpsDecode<#de>>::decode(&mut sub)?;)*
                    sub.end_fixed()?;
                    ::core::result::Result::Ok(#construct)
                }
                ::core::option::Option::None => {
                    #(let #locals = <#types as #krate::SpsDecode<#de>>::decode(r)?;)*
                    ::core::result::Result::Ok(#construct)
                }
            }
        }
    };

    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics #krate::SpsDecode<#de> for #name #ty_generics #where_clause {
            const MIN_ENCODED_SIZE: usize =
                0 #(+ <#types as #krate::SpsDecode<#de>>::MIN_ENCODED_SIZE)*;
            const FIXED_SIZE: ::core::option::Option<usize> = #krate::__private::fixed_sum(
                &[#(<#types as #krate::SpsDecode<#de>>::FIXED_SIZE),*]
            );

            #[inline(always)]
            fn decode(
                r: &mut #krate::Reader<#de>,
            ) -> ::core::result::Result<Self, #krate::DecodeError> {
                #body
            }
        }
    })
}
